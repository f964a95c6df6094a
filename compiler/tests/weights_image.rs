//! `aecc compile --weights registers` writes the chip's memory map and image;
//! `aecc weights NEW.onnx --for DIR` writes the image of a new model with the same
//! architecture and precisions, and refuses (listing every difference) one without.
//! The new models are modified copies of models/econt/model.onnx written with the prost
//! ONNX types.

use aecc::onnx::proto::{ModelProto, TensorProto};
use prost::Message;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn aecc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aecc"))
        .args(args)
        .output()
        .expect("run aecc")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn econt() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/econt/model.onnx")
}

fn load() -> ModelProto {
    ModelProto::decode(&std::fs::read(econt()).unwrap()[..]).unwrap()
}

fn save(model: &ModelProto, dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, model.encode_to_vec()).unwrap();
    p
}

fn initializer<'a>(m: &'a mut ModelProto, name: &str) -> &'a mut TensorProto {
    m.graph
        .as_mut()
        .unwrap()
        .initializer
        .iter_mut()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no initializer {name}"))
}

/// Maps every float32 of a raw-data initializer.
fn map_floats(t: &mut TensorProto, f: impl Fn(f32) -> f32) {
    assert!(!t.raw_data.is_empty());
    t.raw_data = t
        .raw_data
        .chunks_exact(4)
        .flat_map(|c| f(f32::from_le_bytes(c.try_into().unwrap())).to_le_bytes())
        .collect();
}

/// A scalar float initializer.
fn scalar(name: &str, v: f32) -> TensorProto {
    TensorProto {
        name: name.into(),
        data_type: 1,
        raw_data: v.to_le_bytes().to_vec(),
        ..TensorProto::default()
    }
}

/// Points input `pos` of the node producing `output` at a new scalar initializer.
fn set_quant_input(m: &mut ModelProto, output: &str, pos: usize, name: &str, v: f32) {
    let g = m.graph.as_mut().unwrap();
    g.initializer.push(scalar(name, v));
    let node = g
        .node
        .iter_mut()
        .find(|n| n.output.iter().any(|o| o == output))
        .unwrap();
    node.input[pos] = name.into();
}

fn compile_chip(dir: &Path) {
    let o = aecc(&[
        "compile",
        econt().to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
        "--weights",
        "registers",
        "--tmr",
        "config",
        "--cfg-width",
        "16",
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

fn image_words(path: &Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["image"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn compile_writes_the_memory_map_and_the_image() {
    let dir = tempfile::tempdir().unwrap();
    compile_chip(dir.path());
    let cfg = dir.path().join("config");
    let chip = aecc::weights::read_chip(dir.path()).unwrap();
    assert_eq!(chip.map.word_width, 16);
    assert_eq!(chip.tmr, aecc::backend::verilog::Tmr::Config);
    // conv weight 72 x s6 (2 per 16-bit word), conv bias 8 x s16, dense weight
    // 2048 x s6, dense bias 16 x s16
    let t = &chip.map.tensors;
    assert_eq!(t.len(), 4);
    assert_eq!((t[0].width, t[0].per_word, t[0].words), (6, 2, 36));
    assert_eq!((t[0].min, t[0].max), (-32, 31));
    assert_eq!((t[1].width, t[1].first_word, t[1].words), (16, 36, 8));
    assert_eq!((t[2].first_word, t[2].words), (44, 1024));
    assert_eq!((t[3].first_word, t[3].words), (1068, 16));
    assert_eq!((chip.map.words, chip.map.addr_width), (1084, 11));
    // three copies of every configuration bit
    assert_eq!(
        chip.config_register_bits,
        3 * (36 * 12 + 8 * 16 + 1024 * 12 + 16 * 16)
    );
    let mem = std::fs::read_to_string(cfg.join("weights.mem")).unwrap();
    let words: Vec<&str> = mem.lines().filter(|l| !l.starts_with("//")).collect();
    assert_eq!(words.len(), 1084);
    assert!(words.iter().all(|w| w.len() == 4));
    assert_eq!(words, image_words(&cfg.join("weights.json")));
    let registers: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cfg.join("registers.json")).unwrap())
            .unwrap();
    assert_eq!(registers["registers"][0]["path"], "u_config.u_word0");
    assert_eq!(registers["registers"][0]["copies"], 3);
}

#[test]
fn a_model_with_the_same_architecture_gets_an_image() {
    let dir = tempfile::tempdir().unwrap();
    compile_chip(dir.path());
    let mut m = load();
    map_floats(initializer(&mut m, "conv.weight"), |x| -x);
    map_floats(initializer(&mut m, "dense.weight"), |x| 0.5 * x + 0.0625);
    map_floats(initializer(&mut m, "dense.bias"), |x| x - 0.25);
    let new = save(&m, dir.path(), "retrained.onnx");
    let out = dir.path().join("img");
    let o = aecc(&[
        "weights",
        new.to_str().unwrap(),
        "--for",
        dir.path().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("fits chip econt"), "{}", text(&o));
    let new_words = image_words(&out.join("weights.json"));
    let old_words = image_words(&dir.path().join("config/weights.json"));
    assert_eq!(new_words.len(), old_words.len());
    assert_ne!(new_words, old_words);
    // the image holds exactly the new model's integers
    let chip = aecc::weights::read_chip(dir.path()).unwrap();
    let (graph, _) = aecc::pipeline::lower(&new, None).unwrap();
    let image = aecc::weights::image_for(&chip, &graph).unwrap();
    let digits = |w: &u64| format!("{w:04x}");
    assert_eq!(
        image.words.iter().map(digits).collect::<Vec<_>>(),
        new_words
    );
    // default output folder: DIR/images/<name>
    let o = aecc(&[
        "weights",
        new.to_str().unwrap(),
        "--for",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(dir.path().join("images/retrained/weights.mem").exists());
}

#[test]
fn a_model_with_other_precisions_is_refused_with_every_difference() {
    let dir = tempfile::tempdir().unwrap();
    compile_chip(dir.path());
    let mut m = load();
    // 8-bit dense weights instead of 6, a 10-bit latent instead of 9
    set_quant_input(
        &mut m,
        "/dense/weight_quant/export_handler/Quant_output_0",
        3,
        "bw8",
        8.0,
    );
    set_quant_input(&mut m, "latent", 3, "bw10", 10.0);
    let new = save(&m, dir.path(), "wider.onnx");
    let o = aecc(&[
        "weights",
        new.to_str().unwrap(),
        "--for",
        dir.path().to_str().unwrap(),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(!t.contains("panicked"), "{t}");
    assert!(t.contains("does not fit the compiled chip"), "{t}");
    assert!(
        t.contains("dense") && t.contains("Dense.weight.declared.hi: chip 31, model 127"),
        "{t}"
    );
    assert!(
        t.contains("Dense.weight.declared.lo: chip -32, model -128"),
        "{t}"
    );
    assert!(t.contains("Quantize.bit_width: chip 9, model 10"), "{t}");
    assert!(!dir.path().join("images").exists());
}

#[test]
fn a_model_with_another_structure_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    compile_chip(dir.path());
    let o = aecc(&[
        "weights",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../models/dense_ae/model.onnx")
            .to_str()
            .unwrap(),
        "--for",
        dir.path().to_str().unwrap(),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("number of nodes: chip 8, model 9"), "{t}");
    assert!(t.contains("op conv in the chip, dense"), "{t}");
}

#[test]
fn option_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let model = econt();
    let model = model.to_str().unwrap();
    let out = dir.path().to_str().unwrap();
    for (args, needle) in [
        (
            vec!["compile", model, "-o", out, "--tmr", "config"],
            "--tmr and --cfg-width need --weights registers",
        ),
        (
            vec!["compile", model, "-o", out, "--reuse", "4"],
            "--reuse needs --weights registers",
        ),
        (
            vec!["verify", model, "--inject-seu", "0.01"],
            "--inject-seu needs --weights registers",
        ),
        (
            vec![
                "verify",
                model,
                "--weights",
                "registers",
                "--inject-seu",
                "2",
            ],
            "probability per clock cycle",
        ),
        (
            vec!["weights", model, "--for", out],
            "the output of `aecc compile --weights registers`",
        ),
    ] {
        let o = aecc(&args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {t}");
        assert!(t.contains(needle), "{args:?}: {t}");
        assert!(!t.contains("panicked"), "{t}");
    }
}

#[test]
fn the_mem_file_loads_with_readmemh() {
    if !aecc_testbench::require_tools(&["iverilog"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    compile_chip(dir.path());
    let mem = dir.path().join("config/weights.mem");
    let words = image_words(&dir.path().join("config/weights.json"));
    let tb = dir.path().join("tb.v");
    std::fs::write(
        &tb,
        format!(
            "module tb;\n  reg [15:0] image [0:{}];\n  integer i;\n  initial begin\n    \
             $readmemh(\"{}\", image);\n    for (i = 0; i < {}; i = i + 1) $display(\"%h\", \
             image[i]);\n  end\nendmodule\n",
            words.len() - 1,
            mem.display(),
            words.len()
        ),
    )
    .unwrap();
    let sim = dir.path().join("tb.vvp");
    let o = Command::new("iverilog")
        .args(["-g2005", "-o"])
        .arg(&sim)
        .arg(&tb)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = Command::new("vvp").arg("-n").arg(&sim).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let shown: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(shown, words);
}
