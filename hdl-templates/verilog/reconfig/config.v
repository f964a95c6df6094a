`default_nettype none
{%- for line in header %}
// {{ line }}
{%- endfor %}
module {{ module }} (
    input  wire clk,
    input  wire cfg_we,
    input  wire [{{ addr_msb }}:0] cfg_addr,
    input  wire [{{ data_msb }}:0] cfg_data,
{%- if let Some(msb) = flip_msb %}
    // test builds only: single-event upsets of the configuration registers
    input  wire [{{ msb }}:0] flip,
{%- endif %}
    output wire [{{ fields_msb }}:0] fields
);
{%- for w in words %}
{%- for c in w.comment %}
  // {{ c }}
{%- endfor %}
  wire we{{ w.address }} = cfg_we & (cfg_addr == {{ w.address_literal }});
  wire [{{ w.msb }}:0] word{{ w.address }};
  {{ w.instance.module }} {{ w.instance.name }} ({{ w.instance.connections }});
{%- endfor %}
{%- if let Some(parts) = unused %}

  // cfg_data bits no word stores
  wire unused_bits = &{1'b0, {{ parts }}, 1'b0};
{%- endif %}

  assign fields = {{ fields_expr }};
endmodule
`default_nettype wire
