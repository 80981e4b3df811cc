//! C declarations as text: `size_t strlen(const char *s)`, `int (*cmp)(const void *, const
//! void *)`, `struct point { int x; int y; }`.

use super::{CNode, FunctionProto, Prototypes, Signature, TypeId, MAX_DEPTH};

impl Prototypes {
    /// The function's C declaration, as a header would spell it:
    /// `void greet(char *somebody)`.
    pub fn declaration(&self, f: &FunctionProto) -> String {
        self.signature_text(&f.signature, &f.name, 0)
    }

    /// Type `id` as C spells it: `const char *`, `struct point`, `int (*)(int)`.
    pub fn type_name(&self, id: TypeId) -> String {
        self.declare(id, String::new(), 0)
    }

    /// A structure, union or enum's definition, one member per line:
    /// `struct point {\n    int x;\n    int y;\n};`, with each member's offset as a comment.
    pub fn definition(&self, id: TypeId) -> String {
        match self.node(id) {
            CNode::Struct(s) => {
                let kind = if s.union { "union" } else { "struct" };
                let mut text = format!("{kind} {}", s.name.as_deref().unwrap_or(""));
                text.push_str(" {\n");
                for m in &s.members {
                    let name = m.name.clone().unwrap_or_default();
                    let decl = self.declare(m.ty, name, 1);
                    match m.bits {
                        Some((width, start)) => {
                            text.push_str(&format!("    {decl} : {width};  /* bit {start} */\n"))
                        }
                        None => text.push_str(&format!("    {decl};  /* offset {} */\n", m.offset)),
                    }
                }
                let size = s
                    .size
                    .map(|n| format!("  /* size {n} */"))
                    .unwrap_or_default();
                text.push_str(&format!("}};{size}"));
                text
            }
            CNode::Enum { name, values, .. } => {
                let body: Vec<String> = values
                    .iter()
                    .map(|(n, v)| format!("    {n} = {v},"))
                    .collect();
                format!(
                    "enum {} {{\n{}\n}};",
                    name.as_deref().unwrap_or(""),
                    body.join("\n")
                )
            }
            _ => self.type_name(id),
        }
    }

    fn signature_text(&self, sig: &Signature, inner: &str, depth: u32) -> String {
        let mut params: Vec<String> = sig
            .params
            .iter()
            .map(|(name, ty)| self.declare(*ty, name.clone().unwrap_or_default(), depth + 1))
            .collect();
        if sig.variadic {
            params.push("...".into());
        }
        if params.is_empty() && sig.prototyped {
            params.push("void".into());
        }
        self.declare(
            sig.ret,
            format!("{inner}({})", params.join(", ")),
            depth + 1,
        )
    }

    /// The declarator algorithm: `inner` is what is declared so far (a name, `*name`,
    /// `name[3]`), wrapped by each type from the outside in.
    fn declare(&self, id: TypeId, inner: String, depth: u32) -> String {
        let spaced = |spec: &str| {
            if inner.is_empty() {
                spec.to_string()
            } else {
                format!("{spec} {inner}")
            }
        };
        if depth > MAX_DEPTH {
            return spaced("...");
        }
        match self.node(id) {
            CNode::Void => spaced("void"),
            CNode::Unknown => spaced("?"),
            CNode::Base { name, .. } => spaced(name),
            CNode::Typedef { name, .. } => spaced(name),
            CNode::Struct(s) => {
                let kind = if s.union { "union" } else { "struct" };
                spaced(&format!(
                    "{kind} {}",
                    s.name.as_deref().unwrap_or("<anonymous>")
                ))
            }
            CNode::Enum { name, .. } => spaced(&format!(
                "enum {}",
                name.as_deref().unwrap_or("<anonymous>")
            )),
            CNode::Qualified { konst, ty } => {
                let word = if *konst { "const" } else { "" };
                match self.node(*ty) {
                    // `char *const p`: the qualifier binds to the pointer.
                    CNode::Pointer(_) if *konst => {
                        let inner = if inner.is_empty() {
                            "const".to_string()
                        } else {
                            format!("const {inner}")
                        };
                        self.declare(*ty, inner, depth + 1)
                    }
                    _ if word.is_empty() => self.declare(*ty, inner, depth + 1),
                    _ => format!("{word} {}", self.declare(*ty, inner, depth + 1)),
                }
            }
            CNode::Pointer(to) => {
                let star = format!("*{inner}");
                let wrapped = match self.node(*to) {
                    CNode::Array { .. } | CNode::Function(_) => format!("({star})"),
                    _ => star,
                };
                self.declare(*to, wrapped, depth + 1)
            }
            CNode::Array { elem, count } => {
                let dims = match count {
                    Some(n) => format!("{inner}[{n}]"),
                    None => format!("{inner}[]"),
                };
                self.declare(*elem, dims, depth + 1)
            }
            CNode::Function(sig) => self.signature_text(sig, &inner, depth + 1),
        }
    }
}
