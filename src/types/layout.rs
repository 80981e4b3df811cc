//! Structures and unions: ctypes' `Structure` and `Union` with `_fields_` and `_pack_`.
//!
//! A [`StructType`] is built from a fields list (name, type, optional bit width). Its layout
//! (offsets, padding, size, alignment, bitfield placement) is computed for each data model the
//! way the C compiler does on that target (the System V rules that clang uses for both wasm32
//! and x86_64), and checked against the compiler by `tests/structures.rs`.
//!
//! ```
//! use wasmctypes::{CType, DataModel, Field, StructType};
//! let s = StructType::structure("S", vec![Field::new("c", CType::Char), Field::new("l", CType::Long)]);
//! assert_eq!(s.layout(DataModel::ILP32).size, 8);
//! assert_eq!(s.layout(DataModel::LP64).size, 16);
//! assert_eq!(s.offset_of("l", DataModel::LP64), Some(8));
//! ```

use std::rc::Rc;

use crate::types::DataModel;
use crate::types::Type;

/// One entry of `_fields_`: a name, a type and, for a bitfield, its width in bits.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The field's name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// The bit width of a bitfield (`("a", c_uint, 3)` in ctypes).
    pub bits: Option<u32>,
}

impl Field {
    /// `("name", T)`.
    pub fn new(name: &str, ty: impl Into<Type>) -> Field {
        Field {
            name: name.to_string(),
            ty: ty.into(),
            bits: None,
        }
    }

    /// `("name", T, bits)`: a bitfield.
    pub fn bits(name: &str, ty: impl Into<Type>, bits: u32) -> Field {
        Field {
            name: name.to_string(),
            ty: ty.into(),
            bits: Some(bits),
        }
    }
}

/// Where one field sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldLayout {
    /// Byte offset of the field (of its storage unit, for a bitfield).
    pub offset: usize,
    /// For a bitfield: the bit offset inside the storage unit and the width.
    pub bitfield: Option<(u32, u32)>,
}

/// The layout of a structure in one data model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// `sizeof`.
    pub size: usize,
    /// `alignment`.
    pub align: usize,
    /// One entry per field, in order.
    pub fields: Vec<FieldLayout>,
}

/// A structure or union type.
#[derive(Debug, PartialEq)]
pub struct StructType {
    name: String,
    fields: Vec<Field>,
    union: bool,
    pack: Option<usize>,
    layouts: [Layout; 2],
}

fn round_up(v: usize, align: usize) -> usize {
    v.div_ceil(align.max(1)) * align.max(1)
}

fn compute(fields: &[Field], union: bool, pack: Option<usize>, m: DataModel) -> Layout {
    let mut bitpos: usize = 0; // in bits, for structures
    let mut size: usize = 0; // for unions
    let mut align = 1usize;
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        let fsize = f.ty.sizeof(m);
        let natural = f.ty.alignment(m);
        let falign = pack.map_or(natural, |p| natural.min(p));
        match f.bits {
            Some(width) => {
                let unit_bits = fsize * 8;
                let width = width as usize;
                if width == 0 {
                    // A zero-width bitfield closes the unit: the next field starts aligned.
                    bitpos = round_up(bitpos, natural * 8);
                    out.push(FieldLayout {
                        offset: bitpos / 8,
                        bitfield: Some((0, 0)),
                    });
                    continue;
                }
                let ualign_bits = falign * 8;
                if union {
                    out.push(FieldLayout {
                        offset: 0,
                        bitfield: Some((0, width as u32)),
                    });
                    size = size.max(fsize);
                } else {
                    // A bitfield may not straddle a storage unit of its type (aligned to the
                    // type's alignment, or to the pack); if it would, it starts a new one.
                    let unit_start = bitpos / ualign_bits * ualign_bits;
                    if bitpos + width > unit_start + unit_bits {
                        bitpos = round_up(bitpos, ualign_bits);
                    }
                    let unit_start = bitpos / ualign_bits * ualign_bits;
                    out.push(FieldLayout {
                        offset: unit_start / 8,
                        bitfield: Some(((bitpos - unit_start) as u32, width as u32)),
                    });
                    bitpos += width;
                }
                align = align.max(falign);
            }
            None => {
                if union {
                    out.push(FieldLayout {
                        offset: 0,
                        bitfield: None,
                    });
                    size = size.max(fsize);
                } else {
                    let offset = round_up(bitpos.div_ceil(8), falign);
                    out.push(FieldLayout {
                        offset,
                        bitfield: None,
                    });
                    bitpos = (offset + fsize) * 8;
                }
                align = align.max(falign);
            }
        }
    }
    let raw = if union { size } else { bitpos.div_ceil(8) };
    Layout {
        size: round_up(raw, align),
        align,
        fields: out,
    }
}

impl StructType {
    /// `class NAME(Structure): _fields_ = [...]`.
    pub fn structure(name: &str, fields: Vec<Field>) -> Rc<StructType> {
        StructType::build(name, fields, false, None)
    }

    /// `class NAME(Union): _fields_ = [...]`.
    pub fn union(name: &str, fields: Vec<Field>) -> Rc<StructType> {
        StructType::build(name, fields, true, None)
    }

    /// A structure with `_pack_ = pack` (`#pragma pack(pack)`).
    pub fn packed(name: &str, fields: Vec<Field>, pack: usize) -> Rc<StructType> {
        StructType::build(name, fields, false, Some(pack.max(1)))
    }

    fn build(name: &str, fields: Vec<Field>, union: bool, pack: Option<usize>) -> Rc<StructType> {
        let layouts = [
            compute(&fields, union, pack, DataModel::ILP32),
            compute(&fields, union, pack, DataModel::LP64),
        ];
        Rc::new(StructType {
            name: name.to_string(),
            fields,
            union,
            pack,
            layouts,
        })
    }

    /// The type's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fields, in order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Whether this is a union.
    pub fn is_union(&self) -> bool {
        self.union
    }

    /// `_pack_`, if set.
    pub fn pack(&self) -> Option<usize> {
        self.pack
    }

    /// The layout in a data model.
    pub fn layout(&self, m: DataModel) -> &Layout {
        match m {
            DataModel::ILP32 => &self.layouts[0],
            DataModel::LP64 => &self.layouts[1],
        }
    }

    /// The index of a field by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// `offsetof(T, name)` (of the storage unit, for a bitfield).
    pub fn offset_of(&self, name: &str, m: DataModel) -> Option<usize> {
        self.index_of(name).map(|i| self.layout(m).fields[i].offset)
    }

    /// Whether the layout has no bitfields and no pack, so the ABI can describe it field by
    /// field.
    pub fn is_plain(&self) -> bool {
        self.pack.is_none() && self.fields.iter().all(|f| f.bits.is_none())
    }
}
