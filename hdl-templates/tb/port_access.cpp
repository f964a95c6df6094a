// Shared by the harnesses (included inside their anonymous namespace, after kInWords
// and kInDigits).
// Port access for every Verilator port representation; `w` holds 32-bit words, least
// significant first.
void set_port(CData& p, const uint32_t* w) { p = static_cast<CData>(w[0]); }
void set_port(SData& p, const uint32_t* w) { p = static_cast<SData>(w[0]); }
void set_port(IData& p, const uint32_t* w) { p = w[0]; }
void set_port(QData& p, const uint32_t* w) {
    p = static_cast<QData>(w[0]) | (static_cast<QData>(w[1]) << 32);
}
template <std::size_t N>
void set_port(VlWide<N>& p, const uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) p[i] = w[i];
}
void get_port(const CData& p, uint32_t* w) { w[0] = p; }
void get_port(const SData& p, uint32_t* w) { w[0] = p; }
void get_port(const IData& p, uint32_t* w) { w[0] = p; }
void get_port(const QData& p, uint32_t* w) {
    w[0] = static_cast<uint32_t>(p);
    w[1] = static_cast<uint32_t>(p >> 32);
}
template <std::size_t N>
void get_port(const VlWide<N>& p, uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) w[i] = p[i];
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Parses HEX (most significant digit first) into words; false on a bad digit.
bool parse_hex(const char* s, std::size_t n, uint32_t* w) {
    for (int i = 0; i < kInWords; ++i) w[i] = 0;
    if (n > static_cast<std::size_t>(kInDigits)) return false;
    for (std::size_t j = 0; j < n; ++j) {
        int d = hex_value(s[n - 1 - j]);
        if (d < 0) return false;
        w[j / 8] |= static_cast<uint32_t>(d) << (4 * (j % 8));
    }
    return true;
}

const char kDigits[] = "0123456789abcdef";
