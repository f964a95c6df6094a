// Shared by the harnesses (included inside their anonymous namespace): the binary pipe
// protocol. Every number is little-endian; a bus is a sequence of u32 words, least
// significant first. Needs <unistd.h>, <cerrno>, <cstring>, <vector>.

// The first 8 bytes on stdin (protocol version 2; version 1 was text, one hex line per
// vector).
const unsigned char kMagic[8] = {'A', 'E', 'C', 'C', 'T', 'B', '2', '\n'};

uint32_t load_u32(const unsigned char* p) {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

uint64_t load_u64(const unsigned char* p) {
    return static_cast<uint64_t>(load_u32(p)) | (static_cast<uint64_t>(load_u32(p + 4)) << 32);
}

void store_u32(unsigned char* p, uint32_t v) {
    p[0] = static_cast<unsigned char>(v);
    p[1] = static_cast<unsigned char>(v >> 8);
    p[2] = static_cast<unsigned char>(v >> 16);
    p[3] = static_cast<unsigned char>(v >> 24);
}

// Buffered output records on stdout (fd 1).
struct Output {
    std::vector<unsigned char> buf;
    std::size_t used = 0;
    bool failed = false;

    Output() : buf(1 << 16) {}

    void put(const uint32_t* w, int words) {
        const std::size_t n = 4 * static_cast<std::size_t>(words);
        if (used + n > buf.size()) flush();
        for (int i = 0; i < words; ++i) store_u32(&buf[used + 4 * i], w[i]);
        used += n;
    }

    // Writes everything buffered; on an error (the driver went away) sets `failed`.
    void flush() {
        std::size_t at = 0;
        while (at < used && !failed) {
            ssize_t r = ::write(1, &buf[at], used - at);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                failed = true;
                break;
            }
            at += static_cast<std::size_t>(r);
        }
        used = 0;
    }
};

// Buffered input on stdin (fd 0), consumed in whole records. The output is flushed
// before every read: the driver may wait for outputs before it writes more input.
struct Input {
    std::vector<unsigned char> buf;
    std::size_t begin = 0;
    std::size_t end = 0;
    Output* out;

    // `record`: the largest number of bytes `need` is asked for.
    Input(Output* o, std::size_t record) : buf(record > (1u << 19) ? 2 * record : 1u << 20), out(o) {}

    // Makes `n` bytes available; false at the end of the input.
    bool need(std::size_t n) {
        while (end - begin < n) {
            if (begin > 0) {
                std::memmove(&buf[0], &buf[begin], end - begin);
                end -= begin;
                begin = 0;
            }
            out->flush();
            ssize_t r = ::read(0, &buf[end], buf.size() - end);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) return false;
            end += static_cast<std::size_t>(r);
        }
        return true;
    }

    const unsigned char* take(std::size_t n) {
        const unsigned char* p = &buf[begin];
        begin += n;
        return p;
    }

    std::size_t pending() const { return end - begin; }
};
