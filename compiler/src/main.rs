fn main() {
    std::process::exit(aecc::cli::main());
}
