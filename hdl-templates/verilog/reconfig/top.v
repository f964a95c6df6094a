`default_nettype none
{%- for line in header %}
// {{ line }}
{%- endfor %}
module {{ module }} (
    input  wire clk,
    input  wire rst,
    input  wire in_valid,
    input  wire [{{ in_msb }}:0] in_data,
    output wire out_valid,
    output wire [{{ out_msb }}:0] out_data,
    input  wire cfg_we,
    input  wire [{{ addr_msb }}:0] cfg_addr,
{%- if let Some(seu) = seu %}
    input  wire [{{ data_msb }}:0] cfg_data,
    // test builds only: at the next clock edge, invert register bit seu_bit (numbering in
    // the register list of the compile report) when seu_en is high
    input  wire seu_en,
    input  wire [{{ seu.index_msb }}:0] seu_bit
{%- else %}
    input  wire [{{ data_msb }}:0] cfg_data
{%- endif %}
);
{%- if let Some(seu) = seu %}
  wire [{{ seu.bits_msb }}:0] seu_flip = {{ seu.one }} << seu_bit;
{%- endif %}
{%- for item in items %}
{% for c in item.comment %}
  // {{ c }}
{%- endfor %}
{%- for w in item.wires %}
{%- if let Some(expr) = w.expr %}
  wire [{{ w.msb }}:0] {{ w.name }} = {{ expr }};
{%- else %}
  wire [{{ w.msb }}:0] {{ w.name }};
{%- endif %}
{%- endfor %}
{%- for i in item.instances %}
  {{ i.module }} {{ i.name }} ({{ i.connections }});
{%- endfor %}
{%- endfor %}

  assign out_valid = {{ out_valid }};
  assign out_data = {{ output }};
endmodule
`default_nettype wire
