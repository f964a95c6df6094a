`default_nettype none
{%- for line in header %}
// {{ line }}
{%- endfor %}
module {{ module }} (
    input  wire [{{ x_msb }}:0] x,
    output reg  [{{ y_msb }}:0] y
);
  always @(*) begin
    case (x)
{%- for e in entries %}
      {{ e.key }}: y = {{ e.value }};
{%- endfor %}
      default: y = {{ default }};
    endcase
  end
endmodule
`default_nettype wire
