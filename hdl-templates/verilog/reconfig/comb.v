`default_nettype none
{%- for line in header %}
// {{ line }}
{%- endfor %}
module {{ module }} (
{%- for p in inputs %}
    input  wire [{{ p.msb }}:0] {{ p.name }},
{%- endfor %}
{%- for o in outputs %}
    output wire [{{ o.msb }}:0] {{ o.name }}{% if !loop.last %},{% endif %}
{%- endfor %}
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

  // input bits no output depends on
  wire unused_bits = &{1'b0, {{ parts }}, 1'b0};
{%- endif %}
{% for o in outputs %}
  assign {{ o.name }} = {{ o.expr }};
{%- endfor %}
endmodule
`default_nettype wire
