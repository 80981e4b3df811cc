//! The DWARF reader: gimli walks each compilation unit; its type entries become [`CNode`]s and
//! its exported function definitions [`FunctionProto`]s.
//!
//! The debug information is as hostile as any other input: every reference is checked, every
//! walk is bounded (see [`MAX_DEPTH`]), and malformed data is a `ValueError`, never a panic.

use std::collections::{BTreeMap, HashMap};

use gimli::{AttributeValue, EndianSlice, LittleEndian, Reader as _, Unit, UnitOffset};

use super::sections::Found;
use super::{
    CNode, Encoding, FunctionProto, Member, Prototypes, Signature, StructInfo, TypeId, MAX_DEPTH,
};
use crate::error::{Error, Result};

type R<'a> = EndianSlice<'a, LittleEndian>;

/// The type table's first two entries: `void` and the unknown type.
const VOID: TypeId = 0;
const UNKNOWN: TypeId = 1;

/// The most entries one unit may have: debug information larger than this is refused rather
/// than read into memory.
const MAX_ENTRIES: usize = 4 << 20;

/// One entry of a unit, with what the reader uses of its attributes.
#[derive(Default)]
struct Die {
    /// The tag's number (`gimli::DwTag`'s).
    tag: u16,
    parent: Option<usize>,
    name: Option<String>,
    ty: Option<usize>,
    byte_size: Option<u64>,
    encoding: Option<gimli::DwAte>,
    member_location: Option<u64>,
    bit_size: Option<u64>,
    data_bit_offset: Option<u64>,
    /// DWARF 2's `DW_AT_bit_offset`, counted from the storage unit's most significant bit.
    bit_offset: Option<u64>,
    count: Option<u64>,
    upper_bound: Option<u64>,
    const_value: Option<i64>,
    external: bool,
    declaration: bool,
    prototyped: bool,
}

fn malformed(e: gimli::Error) -> Error {
    Error::ValueError(format!("malformed DWARF: {e}"))
}

/// Reads every unit of `found`.
pub(super) fn read(found: &Found<'_>) -> Result<Prototypes> {
    let dwarf = gimli::Dwarf::load(|id| -> Result<R<'_>> {
        let data = found.sections.get(id.name()).copied().unwrap_or(&[]);
        Ok(EndianSlice::new(data, LittleEndian))
    })?;
    let mut protos = Prototypes {
        model: found.model,
        types: vec![CNode::Void, CNode::Unknown],
        functions: BTreeMap::new(),
        tagged: BTreeMap::new(),
    };
    let mut units = dwarf.units();
    while let Some(header) = units.next().map_err(malformed)? {
        let unit = dwarf.unit(header).map_err(malformed)?;
        let dies = entries(&dwarf, &unit)?;
        lower(&dies, found, &mut protos);
    }
    Ok(protos)
}

/// The unit's entries in order, each with its parent.
fn entries(dwarf: &gimli::Dwarf<R<'_>>, unit: &Unit<R<'_>>) -> Result<Vec<Die>> {
    let mut dies: Vec<Die> = Vec::new();
    let mut by_offset: HashMap<usize, usize> = HashMap::new();
    let mut refs: Vec<(usize, usize)> = Vec::new();
    // The open ancestors, by depth.
    let mut stack: Vec<usize> = Vec::new();
    let mut cursor = unit.entries();
    let mut depth: isize = 0;
    while let Some(entry) = cursor.next_dfs().map_err(malformed)? {
        depth = entry.depth().max(0).min(depth + 1);
        if dies.len() >= MAX_ENTRIES {
            return Err(Error::ValueError(format!(
                "a compilation unit with more than {MAX_ENTRIES} entries"
            )));
        }
        let index = dies.len();
        stack.truncate(depth as usize);
        let mut die = Die {
            tag: entry.tag().0,
            parent: stack.last().copied(),
            ..Die::default()
        };
        for attr in entry.attrs() {
            let value = attr.value();
            match attr.name() {
                gimli::DW_AT_name => {
                    die.name = dwarf
                        .attr_string(unit, value)
                        .ok()
                        .map(|s| s.to_string_lossy().into_owned());
                }
                gimli::DW_AT_type => {
                    if let AttributeValue::UnitRef(UnitOffset(o)) = value {
                        refs.push((index, o));
                    }
                }
                gimli::DW_AT_byte_size => die.byte_size = value.udata_value(),
                gimli::DW_AT_encoding => {
                    if let AttributeValue::Encoding(e) = value {
                        die.encoding = Some(e);
                    }
                }
                gimli::DW_AT_data_member_location => die.member_location = location(value),
                gimli::DW_AT_bit_size => die.bit_size = value.udata_value(),
                gimli::DW_AT_data_bit_offset => die.data_bit_offset = value.udata_value(),
                gimli::DW_AT_bit_offset => die.bit_offset = value.udata_value(),
                gimli::DW_AT_count => die.count = value.udata_value(),
                gimli::DW_AT_upper_bound => die.upper_bound = value.udata_value(),
                gimli::DW_AT_const_value => {
                    die.const_value = match value {
                        AttributeValue::Sdata(v) => Some(v),
                        AttributeValue::Udata(v) => Some(v as i64),
                        other => other.sdata_value(),
                    }
                }
                gimli::DW_AT_external => die.external = flag(value),
                gimli::DW_AT_declaration => die.declaration = flag(value),
                gimli::DW_AT_prototyped => die.prototyped = flag(value),
                _ => {}
            }
        }
        by_offset.insert(entry.offset().0, index);
        dies.push(die);
        stack.push(index);
    }
    for (index, offset) in refs {
        dies[index].ty = by_offset.get(&offset).copied();
    }
    Ok(dies)
}

fn flag(value: AttributeValue<R<'_>>) -> bool {
    matches!(value, AttributeValue::Flag(true))
}

/// A member's offset: a constant, or DWARF 2's `DW_OP_plus_uconst N` expression.
fn location(value: AttributeValue<R<'_>>) -> Option<u64> {
    if let Some(v) = value.udata_value() {
        return Some(v);
    }
    let AttributeValue::Exprloc(expr) = value else {
        return None;
    };
    let mut bytes = expr.0;
    (bytes.read_u8().ok()? == gimli::DW_OP_plus_uconst.0)
        .then(|| bytes.read_uleb128().ok())
        .flatten()
}

/// Turns a unit's entries into types and functions.
fn lower(dies: &[Die], found: &Found<'_>, protos: &mut Prototypes) {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); dies.len()];
    for (i, d) in dies.iter().enumerate() {
        if let Some(p) = d.parent {
            children[p].push(i);
        }
    }
    // Every type entry gets its id first, so that references (to itself, too) resolve.
    let mut ids: Vec<Option<TypeId>> = vec![None; dies.len()];
    for (i, d) in dies.iter().enumerate() {
        if is_type(gimli::DwTag(d.tag)) {
            ids[i] = Some(protos.types.len() as TypeId);
            protos.types.push(CNode::Unknown);
        }
    }
    let id_of = |target: Option<usize>| match target {
        None => VOID,
        Some(t) => ids[t].unwrap_or(UNKNOWN),
    };
    for (i, d) in dies.iter().enumerate() {
        let Some(id) = ids[i] else { continue };
        let node = match gimli::DwTag(d.tag) {
            gimli::DW_TAG_base_type => CNode::Base {
                name: d.name.clone().unwrap_or_default(),
                size: d.byte_size.unwrap_or(0).min(u64::from(u32::MAX)) as u32,
                encoding: encoding(d.encoding),
            },
            gimli::DW_TAG_pointer_type | gimli::DW_TAG_reference_type => {
                CNode::Pointer(id_of(d.ty))
            }
            gimli::DW_TAG_const_type => CNode::Qualified {
                konst: true,
                ty: id_of(d.ty),
            },
            gimli::DW_TAG_volatile_type
            | gimli::DW_TAG_restrict_type
            | gimli::DW_TAG_atomic_type => CNode::Qualified {
                konst: false,
                ty: id_of(d.ty),
            },
            gimli::DW_TAG_typedef => CNode::Typedef {
                name: d.name.clone().unwrap_or_default(),
                ty: id_of(d.ty),
            },
            gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type | gimli::DW_TAG_class_type => {
                CNode::Struct(StructInfo {
                    name: d.name.clone(),
                    union: d.tag == gimli::DW_TAG_union_type.0,
                    size: if d.declaration { None } else { d.byte_size },
                    members: children[i]
                        .iter()
                        .map(|&c| &dies[c])
                        .filter(|m| m.tag == gimli::DW_TAG_member.0)
                        .map(|m| member(m, id_of(m.ty)))
                        .collect(),
                })
            }
            gimli::DW_TAG_enumeration_type => CNode::Enum {
                name: d.name.clone(),
                size: d.byte_size.unwrap_or(4).min(u64::from(u32::MAX)) as u32,
                underlying: d.ty.map(|t| id_of(Some(t))),
                values: children[i]
                    .iter()
                    .map(|&c| &dies[c])
                    .filter(|e| e.tag == gimli::DW_TAG_enumerator.0)
                    .map(|e| {
                        (
                            e.name.clone().unwrap_or_default(),
                            e.const_value.unwrap_or(0),
                        )
                    })
                    .collect(),
            },
            gimli::DW_TAG_array_type => {
                // `T a[2][3]`: the outer subrange first; the element is the innermost.
                let counts: Vec<Option<u64>> = children[i]
                    .iter()
                    .map(|&c| &dies[c])
                    .filter(|s| s.tag == gimli::DW_TAG_subrange_type.0)
                    .map(|s| {
                        s.count
                            .or_else(|| s.upper_bound.and_then(|u| u.checked_add(1)))
                    })
                    .take(MAX_DEPTH as usize)
                    .collect();
                let mut elem = id_of(d.ty);
                for count in counts.iter().skip(1).rev() {
                    protos.types.push(CNode::Array {
                        elem,
                        count: *count,
                    });
                    elem = protos.types.len() as TypeId - 1;
                }
                CNode::Array {
                    elem,
                    count: counts.first().copied().flatten(),
                }
            }
            gimli::DW_TAG_subroutine_type => {
                CNode::Function(signature(d, &children[i], dies, &id_of))
            }
            _ => CNode::Unknown,
        };
        protos.types[id as usize] = node;
        if let (Some(name), CNode::Struct(s)) = (&d.name, &protos.types[id as usize]) {
            if s.size.is_some() {
                let kind = if s.union { "union" } else { "struct" };
                protos.tagged.entry(format!("{kind} {name}")).or_insert(id);
            }
        }
        if let (Some(name), CNode::Enum { .. }) = (&d.name, &protos.types[id as usize]) {
            protos.tagged.entry(format!("enum {name}")).or_insert(id);
        }
    }
    for (i, d) in dies.iter().enumerate() {
        if d.tag != gimli::DW_TAG_subprogram.0 || !d.external || d.declaration {
            continue;
        }
        let Some(name) = &d.name else { continue };
        if !found.exports.contains(name) || protos.functions.contains_key(name) {
            continue;
        }
        protos.functions.insert(
            name.clone(),
            FunctionProto {
                name: name.clone(),
                signature: signature(d, &children[i], dies, &id_of),
            },
        );
    }
}

fn signature(
    d: &Die,
    children: &[usize],
    dies: &[Die],
    id_of: &impl Fn(Option<usize>) -> TypeId,
) -> Signature {
    let mut params = Vec::new();
    let mut variadic = false;
    for &c in children {
        match gimli::DwTag(dies[c].tag) {
            gimli::DW_TAG_formal_parameter => {
                params.push((dies[c].name.clone(), id_of(dies[c].ty)))
            }
            gimli::DW_TAG_unspecified_parameters => variadic = true,
            _ => {}
        }
    }
    Signature {
        ret: id_of(d.ty),
        params,
        variadic,
        prototyped: d.prototyped,
    }
}

fn member(m: &Die, ty: TypeId) -> Member {
    let bits = m.bit_size.map(|width| {
        let start = match (m.data_bit_offset, m.bit_offset) {
            (Some(start), _) => start,
            // DWARF 2 counts from the storage unit's most significant bit (little-endian).
            (None, Some(from_top)) => {
                let unit_bits = m.byte_size.unwrap_or(0) * 8;
                (m.member_location.unwrap_or(0) * 8)
                    .saturating_add(unit_bits.saturating_sub(from_top.saturating_add(width)))
            }
            (None, None) => m.member_location.unwrap_or(0) * 8,
        };
        (width.min(u64::from(u32::MAX)) as u32, start)
    });
    Member {
        name: m.name.clone(),
        ty,
        offset: match bits {
            Some((_, start)) => start / 8,
            None => m.member_location.unwrap_or(0),
        },
        bits,
    }
}

fn is_type(tag: gimli::DwTag) -> bool {
    matches!(
        tag,
        gimli::DW_TAG_base_type
            | gimli::DW_TAG_pointer_type
            | gimli::DW_TAG_reference_type
            | gimli::DW_TAG_const_type
            | gimli::DW_TAG_volatile_type
            | gimli::DW_TAG_restrict_type
            | gimli::DW_TAG_atomic_type
            | gimli::DW_TAG_typedef
            | gimli::DW_TAG_structure_type
            | gimli::DW_TAG_union_type
            | gimli::DW_TAG_class_type
            | gimli::DW_TAG_enumeration_type
            | gimli::DW_TAG_array_type
            | gimli::DW_TAG_subroutine_type
            | gimli::DW_TAG_unspecified_type
    )
}

fn encoding(e: Option<gimli::DwAte>) -> Encoding {
    match e {
        Some(gimli::DW_ATE_signed) => Encoding::Signed,
        Some(gimli::DW_ATE_unsigned) => Encoding::Unsigned,
        Some(gimli::DW_ATE_signed_char) => Encoding::SignedChar,
        Some(gimli::DW_ATE_unsigned_char) => Encoding::UnsignedChar,
        Some(gimli::DW_ATE_boolean) => Encoding::Bool,
        Some(gimli::DW_ATE_float) => Encoding::Float,
        _ => Encoding::Other,
    }
}
