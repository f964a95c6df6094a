`default_nettype none
{%- for line in header %}
// {{ line }}
{%- endfor %}
module {{ module }} (
    input  wire clk,
    input  wire rst,
    input  wire in_valid,
    input  wire [{{ in_msb }}:0] in_data,
{%- if let Some(msb) = ready_msb %}
    output wire in_ready,
{%- endif %}
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
{%- for line in control %}
  {{ line }}
{%- endfor %}

  // stage 0: input register
  reg [{{ in_msb }}:0] in_r;
  always @(posedge clk) begin
    {{ input_capture }}
  end

  // pipeline registers (data only: validity travels in valid_pipe)
{%- for r in regs %}
  reg [{{ r.msb }}:0] {{ r.name }};
{%- endfor %}
  reg [{{ out_msb }}:0] out_r;
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
{%- for b in blocks %}

  // {{ b.comment }}
  always @(posedge clk) begin
{%- if let Some(en) = b.enable %}
    if ({{ en }}) begin
{%- for a in b.assigns %}
      {{ a.0 }} <= {{ a.1 }};
{%- endfor %}
    end
{%- else %}
{%- for a in b.assigns %}
    {{ a.0 }} <= {{ a.1 }};
{%- endfor %}
{%- endif %}
  end
{%- endfor %}
{%- if let Some(parts) = unused %}

  // bits that cannot change the result
  wire unused_bits = &{1'b0, {{ parts }}, 1'b0};
{%- endif %}

  assign out_data = out_r;
endmodule
`default_nettype wire
