`default_nettype none
{%- for line in header %}
// {{ line }}
{%- endfor %}
module {{ module }} (
    input  wire clk,
{%- for p in inputs %}
    input  wire [{{ p.msb }}:0] {{ p.name }},
{%- endfor %}
    output reg  [{{ out_msb }}:0] out_data
);
{%- for w in wires %}
{%- for c in w.comment %}
  // {{ c }}
{%- endfor %}
{%- if let Some(expr) = w.expr %}
  wire [{{ w.msb }}:0] {{ w.name }} = {{ expr }};
{%- else %}
  wire [{{ w.msb }}:0] {{ w.name }};
{%- endif %}
{%- endfor %}
{%- for i in instances %}
  {{ i.module }} {{ i.name }} ({{ i.connections }});
{%- endfor %}
{%- if let Some(parts) = unused %}

  // input bits no output depends on (pruned weights, values known to fit fewer bits)
  wire unused_bits = &{1'b0, {{ parts }}, 1'b0};
{%- endif %}

  // pipeline register (data only: validity travels in the top module's valid pipeline)
  always @(posedge clk) begin
    out_data <= {{ out_expr }};
  end
endmodule
`default_nettype wire
