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
    output wire [{{ out_msb }}:0] out_data
);
  // valid pipeline: one bit per register stage, cleared by the synchronous reset
  reg [{{ latency_msb }}:0] valid_pipe;
  always @(posedge clk) begin
    if (rst) valid_pipe <= {{ latency }}'d0;
    else valid_pipe <= {{ valid_next }};
  end
  assign out_valid = valid_pipe[{{ latency_msb }}];

  // stage 1: input register
  reg [{{ in_msb }}:0] {{ input_reg }};
  always @(posedge clk) begin
    {{ input_reg }} <= in_data;
  end
{%- for n in nodes %}
{% for c in n.comment %}
  // {{ c }}
{%- endfor %}
{%- for d in n.delays %}
  reg [{{ d.msb }}:0] {{ d.name }};
  always @(posedge clk) begin
    {{ d.name }} <= {{ d.source }};
  end
{%- endfor %}
{%- if let Some(expr) = n.wiring %}
  wire [{{ n.msb }}:0] {{ n.name }} = {{ expr }};
{%- endif %}
{%- if let Some(i) = n.instance %}
  wire [{{ n.msb }}:0] {{ n.name }};
  {{ i.module }} {{ i.name }} ({{ i.connections }});
{%- endif %}
{%- endfor %}

  assign out_data = {{ output }};
endmodule
`default_nettype wire
