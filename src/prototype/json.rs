//! The prototypes as data: what `wasmctypes inspect --json` prints under `prototypes`.

use serde_json::{json, Value};

use super::{CNode, Prototypes, TypeId};

impl Prototypes {
    /// Every function and tagged type as JSON:
    /// `{"data_model", "functions": [{"name", "declaration", "returns", "params", "variadic",
    /// "ctypes"}], "types": [{"name", "kind", "size", "members" | "values"}]}`.
    pub fn to_json(&self) -> Value {
        let functions: Vec<Value> = self
            .functions()
            .map(|f| {
                let params: Vec<Value> = f
                    .signature
                    .params
                    .iter()
                    .map(|(name, ty)| json!({"name": name, "type": self.type_json(*ty)}))
                    .collect();
                let ctypes = self.ctypes(f).map(|(args, ret)| {
                    json!({
                        "argtypes": args.iter().map(|t| t.name()).collect::<Vec<_>>(),
                        "restype": ret.name(),
                    })
                });
                json!({
                    "name": f.name,
                    "declaration": self.declaration(f),
                    "returns": self.type_json(f.signature.ret),
                    "params": params,
                    "variadic": f.signature.variadic,
                    "prototyped": f.signature.prototyped,
                    "ctypes": ctypes,
                })
            })
            .collect();
        let types: Vec<Value> = self
            .tagged()
            .map(|(name, id)| match self.node(id) {
                CNode::Struct(s) => json!({
                    "name": name,
                    "kind": if s.union { "union" } else { "struct" },
                    "size": s.size,
                    "members": s.members.iter().map(|m| json!({
                        "name": m.name,
                        "type": self.type_json(m.ty),
                        "offset": m.offset,
                        "bit_size": m.bits.map(|(w, _)| w),
                        "bit_offset": m.bits.map(|(_, b)| b),
                    })).collect::<Vec<_>>(),
                }),
                CNode::Enum { size, values, .. } => json!({
                    "name": name,
                    "kind": "enum",
                    "size": size,
                    "values": values.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
                }),
                _ => json!({"name": name}),
            })
            .collect();
        json!({
            "data_model": format!("{:?}", self.model),
            "functions": functions,
            "types": types,
        })
    }

    /// One type: its C spelling, size and, when it is one, the ctypes type for it.
    fn type_json(&self, id: TypeId) -> Value {
        json!({
            "c": self.type_name(id),
            "size": self.size_of(id),
            "ctypes": self.ctypes_of(id, false).map(|t| t.name()),
        })
    }
}
