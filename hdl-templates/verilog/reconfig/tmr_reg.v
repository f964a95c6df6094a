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
    // test builds only: invert these bits of copies 0, 1, 2 at this clock edge (SEUs);
    // copy k at bits [k*W +: W]
    input  wire [3*W-1:0] flip,
{%- endif %}
    output wire [W-1:0] q
);
  // three copies; (* keep *) stops synthesis from merging them (they have the same
  // inputs), which would leave the voter with nothing to vote on
  reg [W-1:0] r0;
  reg [W-1:0] r1;
  reg [W-1:0] r2;
{%- if seu %}
  (* keep *) always @(posedge clk) r0 <= (en ? d : r0) ^ flip[W-1:0];
  (* keep *) always @(posedge clk) r1 <= (en ? d : r1) ^ flip[2*W-1:W];
  (* keep *) always @(posedge clk) r2 <= (en ? d : r2) ^ flip[3*W-1:2*W];
{%- else %}
  (* keep *) always @(posedge clk) if (en) r0 <= d;
  (* keep *) always @(posedge clk) if (en) r1 <= d;
  (* keep *) always @(posedge clk) if (en) r2 <= d;
{%- endif %}
  // bitwise majority vote
  assign q = (r0 & r1) | (r0 & r2) | (r1 & r2);
endmodule
`default_nettype wire
