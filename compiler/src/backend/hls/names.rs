//! C++ identifiers for graph nodes.
//!
//! ONNX tensor names (`/encoder/conv1/Conv_output_0`) are not C identifiers. Every
//! compute node gets `l<k>_<name>`: `k` is its position in dataflow order (so names
//! are unique and cannot clash with C++ keywords or the vendor libraries), `<name>` the
//! node name with every other character replaced by `_`, shortened for readability.

/// Longest part of a node name kept in an identifier.
const MAX_NAME_CHARS: usize = 32;

/// `l<k>_<sanitized name>`.
pub fn layer_ident(k: usize, node_name: &str, op: &str) -> String {
    let mut s = String::new();
    for ch in node_name.chars() {
        let c = if ch.is_ascii_alphanumeric() { ch } else { '_' };
        if c == '_' && (s.is_empty() || s.ends_with('_')) {
            continue;
        }
        s.push(c.to_ascii_lowercase());
        if s.len() >= MAX_NAME_CHARS {
            break;
        }
    }
    let s = s.trim_end_matches('_');
    if s.is_empty() {
        format!("l{k}_{op}")
    } else {
        format!("l{k}_{s}")
    }
}

/// C++ keywords and names the generated code uses itself, which a top-level function
/// may not take.
const RESERVED: &[&str] = &[
    "alignas",
    "alignof",
    "and",
    "and_eq",
    "asm",
    "auto",
    "bitand",
    "bitor",
    "bool",
    "break",
    "case",
    "catch",
    "char",
    "char16_t",
    "char32_t",
    "class",
    "compl",
    "const",
    "constexpr",
    "const_cast",
    "continue",
    "decltype",
    "default",
    "delete",
    "do",
    "double",
    "dynamic_cast",
    "else",
    "enum",
    "explicit",
    "export",
    "extern",
    "false",
    "float",
    "for",
    "friend",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "mutable",
    "namespace",
    "new",
    "noexcept",
    "not",
    "not_eq",
    "nullptr",
    "operator",
    "or",
    "or_eq",
    "private",
    "protected",
    "public",
    "register",
    "reinterpret_cast",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "static_assert",
    "static_cast",
    "struct",
    "switch",
    "template",
    "this",
    "thread_local",
    "throw",
    "true",
    "try",
    "typedef",
    "typeid",
    "typename",
    "union",
    "unsigned",
    "using",
    "virtual",
    "void",
    "volatile",
    "wchar_t",
    "while",
    "xor",
    "xor_eq",
    "main",
    "aecc",
    "x",
    "y",
    "input_t",
    "output_t",
    "N_INPUT",
    "N_OUTPUT",
];

/// Checks that `name` can be the top function's name (and the stem of file names).
pub fn check_top_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    };
    if !valid {
        return Err(format!(
            "top-level name '{name}' is not a C identifier (letters, digits, '_'; not starting with a digit)"
        ));
    }
    if RESERVED.contains(&name)
        || name.starts_with("ap_")
        || name.starts_with("ac_")
        || name.starts_with("__")
        || (name.starts_with('l') && name[1..].starts_with(|c: char| c.is_ascii_digit()))
    {
        return Err(format!(
            "top-level name '{name}' is reserved (a C++ keyword, a vendor prefix or a name the generated code uses)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onnx_names_become_identifiers() {
        assert_eq!(
            layer_ident(3, "/encoder/conv1/Conv_output_0", "conv"),
            "l3_encoder_conv1_conv_output_0"
        );
        assert_eq!(layer_ident(1, "---", "relu"), "l1_relu");
        assert_eq!(layer_ident(12, "Dense 16", "dense"), "l12_dense_16");
        let long = "a".repeat(100);
        assert_eq!(layer_ident(2, &long, "add").len(), 3 + MAX_NAME_CHARS);
    }

    #[test]
    fn top_names_are_checked() {
        assert!(check_top_name("econt").is_ok());
        assert!(check_top_name("dense_ae_v2").is_ok());
        for bad in ["", "2x", "my-top", "int", "main", "ap_top", "l3_x", "x"] {
            assert!(check_top_name(bad).is_err(), "{bad}");
        }
    }
}
