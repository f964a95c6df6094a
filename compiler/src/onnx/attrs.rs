//! Attribute getters that know their node, so every error reads like
//! `node conv_3 (Conv), attribute 'strides': expected 2 values, got 3`.

use super::error::ImportError;
use super::proto::{AttributeProto, AttributeType, NodeProto, TensorProto};

/// The attributes of one node.
pub(crate) struct Attrs<'a> {
    node: &'a NodeProto,
    /// `NAME (OpType)`.
    label: &'a str,
}

impl<'a> Attrs<'a> {
    pub fn new(node: &'a NodeProto, label: &'a str) -> Attrs<'a> {
        Attrs { node, label }
    }

    /// An error about attribute `name` of this node.
    pub fn error(&self, name: &str, message: impl Into<String>) -> ImportError {
        ImportError::Attribute {
            node: self.label.to_string(),
            attribute: name.to_string(),
            message: message.into(),
        }
    }

    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Checks the attribute's declared type. Old producers leave `type` UNDEFINED; then
    /// the value field is trusted.
    fn check_type(&self, a: &AttributeProto, want: AttributeType) -> Result<(), ImportError> {
        let got = AttributeType::try_from(a.r#type).unwrap_or(AttributeType::Undefined);
        if got == want || got == AttributeType::Undefined {
            Ok(())
        } else {
            Err(self.error(
                &a.name,
                format!("expected {}, got {}", type_name(want), type_name(got)),
            ))
        }
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ImportError> {
        match self.get(name) {
            None => Ok(None),
            Some(a) => {
                self.check_type(a, AttributeType::Int)?;
                Ok(Some(a.i))
            }
        }
    }

    pub fn int_or(&self, name: &str, default: i64) -> Result<i64, ImportError> {
        Ok(self.int(name)?.unwrap_or(default))
    }

    /// An int attribute used as a flag: 0 or 1.
    pub fn flag_or(&self, name: &str, default: bool) -> Result<bool, ImportError> {
        match self.int(name)? {
            None => Ok(default),
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            Some(v) => Err(self.error(name, format!("expected 0 or 1, got {v}"))),
        }
    }

    pub fn float_or(&self, name: &str, default: f32) -> Result<f32, ImportError> {
        match self.get(name) {
            None => Ok(default),
            Some(a) => {
                self.check_type(a, AttributeType::Float)?;
                Ok(a.f)
            }
        }
    }

    pub fn string(&self, name: &str) -> Result<Option<String>, ImportError> {
        match self.get(name) {
            None => Ok(None),
            Some(a) => {
                self.check_type(a, AttributeType::String)?;
                String::from_utf8(a.s.clone())
                    .map(Some)
                    .map_err(|_| self.error(name, "not valid UTF-8"))
            }
        }
    }

    pub fn string_or(&self, name: &str, default: &str) -> Result<String, ImportError> {
        Ok(self.string(name)?.unwrap_or_else(|| default.to_string()))
    }

    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, ImportError> {
        match self.get(name) {
            None => Ok(None),
            Some(a) => {
                self.check_type(a, AttributeType::Ints)?;
                Ok(Some(a.ints.clone()))
            }
        }
    }

    /// An ints attribute that must have exactly `n` values.
    pub fn ints_n(&self, name: &str, n: usize) -> Result<Option<Vec<i64>>, ImportError> {
        match self.ints(name)? {
            Some(v) if v.len() != n => {
                Err(self.error(name, format!("expected {} values, got {}", n, v.len())))
            }
            other => Ok(other),
        }
    }

    /// An ints attribute of `n` values, each at least `min`, as `usize`.
    pub fn usizes_n(
        &self,
        name: &str,
        n: usize,
        min: i64,
    ) -> Result<Option<Vec<usize>>, ImportError> {
        let Some(v) = self.ints_n(name, n)? else {
            return Ok(None);
        };
        if v.iter()
            .any(|&x| x < min || x > super::constant::MAX_DIM as i64)
        {
            return Err(self.error(
                name,
                format!(
                    "expected values in {}..={}, got {:?}",
                    min,
                    super::constant::MAX_DIM,
                    v
                ),
            ));
        }
        Ok(Some(v.into_iter().map(|x| x as usize).collect()))
    }

    pub fn floats(&self, name: &str) -> Result<Option<Vec<f32>>, ImportError> {
        match self.get(name) {
            None => Ok(None),
            Some(a) => {
                self.check_type(a, AttributeType::Floats)?;
                Ok(Some(a.floats.clone()))
            }
        }
    }

    pub fn tensor(&self, name: &str) -> Result<Option<&'a TensorProto>, ImportError> {
        match self.get(name) {
            None => Ok(None),
            Some(a) => {
                self.check_type(a, AttributeType::Tensor)?;
                a.t.as_ref()
                    .map(Some)
                    .ok_or_else(|| self.error(name, "tensor attribute has no value"))
            }
        }
    }

    /// Names of all attributes present (for "unexpected attribute" messages).
    pub fn names(&self) -> impl Iterator<Item = &'a str> {
        self.node.attribute.iter().map(|a| a.name.as_str())
    }
}

fn type_name(t: AttributeType) -> &'static str {
    match t {
        AttributeType::Undefined => "an undefined type",
        AttributeType::Float => "a float",
        AttributeType::Int => "an int",
        AttributeType::String => "a string",
        AttributeType::Tensor => "a tensor",
        AttributeType::Graph => "a graph",
        AttributeType::SparseTensor => "a sparse tensor",
        AttributeType::TypeProto => "a type",
        AttributeType::Floats => "a list of floats",
        AttributeType::Ints => "a list of ints",
        AttributeType::Strings => "a list of strings",
        AttributeType::Tensors => "a list of tensors",
        AttributeType::Graphs => "a list of graphs",
        AttributeType::SparseTensors => "a list of sparse tensors",
        AttributeType::TypeProtos => "a list of types",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node_with(attr: AttributeProto) -> NodeProto {
        NodeProto {
            name: "conv_3".into(),
            op_type: "Conv".into(),
            attribute: vec![attr],
            ..Default::default()
        }
    }

    #[test]
    fn errors_name_node_and_attribute() {
        let node = node_with(AttributeProto {
            name: "strides".into(),
            r#type: AttributeType::Ints as i32,
            ints: vec![1, 2, 3],
            ..Default::default()
        });
        let attrs = Attrs::new(&node, "conv_3 (Conv)");
        let e = attrs.ints_n("strides", 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "node conv_3 (Conv), attribute 'strides': expected 2 values, got 3"
        );
        let e = attrs.int("strides").unwrap_err();
        assert_eq!(
            e.to_string(),
            "node conv_3 (Conv), attribute 'strides': expected an int, got a list of ints"
        );
        assert_eq!(attrs.int_or("group", 1).unwrap(), 1);
    }

    #[test]
    fn flags_and_ranges() {
        let node = node_with(AttributeProto {
            name: "signed".into(),
            r#type: AttributeType::Int as i32,
            i: 2,
            ..Default::default()
        });
        let attrs = Attrs::new(&node, "q (Quant)");
        assert!(attrs
            .flag_or("signed", true)
            .unwrap_err()
            .to_string()
            .contains("expected 0 or 1, got 2"));
        let node = node_with(AttributeProto {
            name: "pads".into(),
            ints: vec![0, -1, 0, 0],
            ..Default::default()
        });
        let attrs = Attrs::new(&node, "c (Conv)");
        assert!(attrs.usizes_n("pads", 4, 0).is_err());
    }
}
