`default_nettype none
{%- for line in header %}
// {{ line }}
{%- endfor %}
module {{ module }} #(
    parameter W = 1
) (
    input  wire clk,
    input  wire en,
    input  wire [W-1:0] d,
{%- if seu %}
    // test builds only: invert these bits at this clock edge (single-event upsets)
    input  wire [W-1:0] flip,
{%- endif %}
    output wire [W-1:0] q
);
  reg [W-1:0] r;
  always @(posedge clk) begin
{%- if seu %}
    r <= (en ? d : r) ^ flip;
{%- else %}
    if (en) r <= d;
{%- endif %}
  end
  assign q = r;
endmodule
`default_nettype wire
