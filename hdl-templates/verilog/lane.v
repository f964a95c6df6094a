`default_nettype none
{%- for line in header %}
// {{ line }}
{%- endfor %}
module {{ module }} (
    input  wire [{{ x_msb }}:0] x,
    output wire [{{ y_msb }}:0] y
);
{%- for w in wires %}
{%- for c in w.comment %}
  // {{ c }}
{%- endfor %}
  wire [{{ w.msb }}:0] {{ w.name }} = {{ w.expr }};
{%- endfor %}
{%- if let Some(parts) = unused %}

  // bits that cannot change the result
  wire unused_bits = &{1'b0, {{ parts }}, 1'b0};
{%- endif %}
  assign y = {{ y_expr }};
endmodule
`default_nettype wire
