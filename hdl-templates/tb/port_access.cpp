// Shared by the harnesses (included inside their anonymous namespace, after kInWords).
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
