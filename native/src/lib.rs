//! skillstream's native hot path.
//!
//! `accepts(raw, v2)` is the validator's fast path (`schemas/xapi/fast.py`) read straight
//! from a record's bytes: true only when the statement is certainly valid under the xAPI
//! 2.0 (`v2`) or 1.0.3 rules; false means "not sure", never "invalid". It takes the shapes
//! the Python fast path takes, in narrower forms (no escapes in the strings it checks, no
//! property repeated within an object it reads field by field, timestamps in RFC 3339, language tags of language, script and region,
//! durations with a fraction only on the seconds), so whatever it accepts the every-error
//! validator accepts too. `tests/unit/schemas/test_xapi_fast_path.py` holds it to that on
//! every conformance case, on generated statements and mutations, on the simulator's
//! traffic and on raw records built to sit on its edges.
//!
//! The structural checks follow `fast.py` function by function; the format checks are the
//! patterns of `schemas/xapi/formats.py` written out by hand.

use std::fmt;

use pyo3::prelude::*;

mod construct;
mod ids;
mod ingest;
mod pack;
mod untrack;
mod utc;

/// Rust's own allocations here (a read statement's boxed parts, its lists, the keys and
/// ids written per statement; several per statement) come from mimalloc, not the C
/// library's malloc. Python's objects are still Python's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

const VOIDED_VERB: &str = "http://adlnet.gov/expapi/verbs/voided";

/// `schemas.normalize.SKILLS_EXTENSION`: the context or result extension listing skill ids.
const SKILLS_EXTENSION: &str = "https://w3id.org/skillstream/extensions/skills";

// The statement is read into borrowed structs that hold only what the checks need: an
// unknown property, a duplicate one or a value of the wrong JSON type fails the read
// (and the statement is declined); maps of language tags and extensions are checked as
// they are read, without being kept.

/// A JSON string as it stands in the record; null is not one, and a string written with
/// escapes fails the read (such statements are rare, and the Python path takes them).
struct Text<'a>(&'a str);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string without escapes")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// A property that may be absent but, when given, must be a `T`: unlike `Option`, a JSON
/// null is not taken for an absent property (the validator refuses a null where a value
/// belongs).
struct Given<T>(Option<T>);

impl<T> Default for Given<T> {
    fn default() -> Self {
        Given(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Given<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(|value| Given(Some(value)))
    }
}

impl<T> Given<T> {
    fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }
    fn is_some(&self) -> bool {
        self.0.is_some()
    }
}

/// The statement's objects, result and context are boxed: the struct stays small, and the
/// read moves it whole several times on its way out (from the derived visitor, through
/// `Obj` and the `Result`s), each move a copy of the struct.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read to be checked as they are read, never looked at again
struct Statement<'a> {
    #[serde(default, borrow)]
    id: Given<Text<'a>>,
    #[serde(default, borrow)]
    actor: Given<Obj<Box<Object<'a>>>>,
    #[serde(default, borrow)]
    verb: Given<Obj<Verb<'a>>>,
    #[serde(default, borrow)]
    object: Given<Obj<Box<Object<'a>>>>,
    #[serde(default, borrow)]
    result: Given<Obj<Box<Outcome<'a>>>>,
    #[serde(default, borrow)]
    context: Given<Obj<Box<Context<'a>>>>,
    #[serde(default, borrow)]
    timestamp: Given<Text<'a>>,
    #[serde(default, borrow)]
    stored: Given<Text<'a>>,
    #[serde(default, borrow)]
    authority: Given<Obj<Box<Object<'a>>>>,
    #[serde(default, borrow)]
    version: Given<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read to be checked as they are read, never looked at again
struct Verb<'a> {
    #[serde(default, borrow)]
    id: Given<Text<'a>>,
    #[serde(default)]
    display: Given<LanguageMap>,
}

/// An Agent, a Group or an Activity: which one is known only once every property is read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read to be checked as they are read, never looked at again
struct Object<'a> {
    #[serde(rename = "objectType", default, borrow)]
    object_type: Given<Text<'a>>,
    #[serde(default, borrow)]
    id: Given<Text<'a>>,
    #[serde(default, borrow)]
    definition: Given<Obj<Definition<'a>>>,
    #[serde(default, borrow)]
    name: Given<Text<'a>>,
    #[serde(default, borrow)]
    mbox: Given<Text<'a>>,
    #[serde(default, borrow)]
    mbox_sha1sum: Given<Text<'a>>,
    #[serde(default, borrow)]
    openid: Given<Text<'a>>,
    #[serde(default, borrow)]
    account: Given<Obj<Account<'a>>>,
    /// A Group's members (an Agent or an Activity never has them).
    #[serde(default, borrow)]
    member: Given<Vec<Obj<Object<'a>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read to be checked as they are read, never looked at again
struct Account<'a> {
    #[serde(rename = "homePage", borrow)]
    home_page: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read to be checked as they are read, never looked at again
struct Definition<'a> {
    #[serde(default)]
    name: Given<LanguageMap>,
    #[serde(default)]
    description: Given<LanguageMap>,
    #[serde(rename = "type", default, borrow)]
    kind: Given<Text<'a>>,
    #[serde(rename = "moreInfo", default, borrow)]
    more_info: Given<Text<'a>>,
    #[serde(default, borrow)]
    extensions: Given<Extensions<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read to be checked as they are read, never looked at again
struct Outcome<'a> {
    #[serde(default)]
    score: Given<Obj<Score>>,
    #[serde(default)]
    success: Given<bool>,
    #[serde(default)]
    completion: Given<bool>,
    #[serde(default, borrow)]
    response: Given<Text<'a>>,
    #[serde(default, borrow)]
    duration: Given<Text<'a>>,
    #[serde(default, borrow)]
    extensions: Given<Extensions<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read to be checked as they are read, never looked at again
struct Score {
    #[serde(default)]
    scaled: Given<Number>,
    #[serde(default)]
    raw: Given<Number>,
    #[serde(default)]
    min: Given<Number>,
    #[serde(default)]
    max: Given<Number>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read to be checked as they are read, never looked at again
struct Context<'a> {
    #[serde(default, borrow)]
    registration: Given<Text<'a>>,
    #[serde(rename = "contextActivities", default, borrow)]
    context_activities: Given<Obj<ContextActivities<'a>>>,
    #[serde(default, borrow)]
    revision: Given<Text<'a>>,
    #[serde(default, borrow)]
    platform: Given<Text<'a>>,
    #[serde(default, borrow)]
    language: Given<Text<'a>>,
    #[serde(default, borrow)]
    extensions: Given<Extensions<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read to be checked as they are read, never looked at again
struct ContextActivities<'a> {
    #[serde(default, borrow)]
    parent: Given<OneOrMany<'a>>,
    #[serde(default, borrow)]
    grouping: Given<OneOrMany<'a>>,
    #[serde(default, borrow)]
    category: Given<OneOrMany<'a>>,
    #[serde(default, borrow)]
    other: Given<OneOrMany<'a>>,
}

/// Context activities: an array of activities, or one (xAPI 1.0.3 allows it).
enum OneOrMany<'a> {
    Many(Vec<Object<'a>>),
    One(Box<Object<'a>>), // boxed: the context's four groups stay small to move
}

impl<'de: 'a, 'a> Deserialize<'de> for OneOrMany<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an activity or an array of them")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(Obj(item)) = seq.next_element::<Obj<Object<'de>>>()? {
                    items.push(item);
                }
                Ok(OneOrMany::Many(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let one = Object::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(OneOrMany::One(Box::new(one)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON object read into `T`, and only an object: serde_json reads a derived struct from
/// an array too (its fields by position), where the validator sees a wrong type.
struct Obj<T>(T);

impl<T> std::ops::Deref for Obj<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A JSON number as Python compares it, exactly: an integer of at most 53 bits or a float
/// (JSON has no infinity), read to the nearest double as orjson reads it (serde_json's
/// `float_roundtrip`); any other number fails the read. The flag: written as an integer.
struct Number(f64, bool);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                if v.unsigned_abs() <= 1 << 53 {
                    Ok(Number(v as f64, true))
                } else {
                    Err(E::custom("more than 53 bits"))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                if v <= 1 << 53 {
                    Ok(Number(v as f64, true))
                } else {
                    Err(E::custom("more than 53 bits"))
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                if v.is_finite() {
                    Ok(Number(v, false))
                } else {
                    Err(E::custom("not finite"))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A language map, checked as it is read: well-formed tags, text values.
struct LanguageMap;

impl<'de> Deserialize<'de> for LanguageMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LanguageMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a language map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LanguageMap, A::Error> {
                while let Some(tag) = map.next_key::<Text<'de>>()? {
                    if !is_language_tag(tag.0) {
                        return Err(de::Error::custom("language tag"));
                    }
                    map.next_value::<Text<'de>>()?;
                }
                Ok(LanguageMap)
            }
        }
        d.deserialize_map(V)
    }
}

macro_rules! non_string_visits {
    ($value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

macro_rules! scalar_visits {
    ($value:expr) => {
        non_string_visits!($value);
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// Extensions, checked as they are read: IRI keys, values at most one level deep (a
/// scalar, or an array or object of scalars). The value of the skills extension
/// (`SKILLS_EXTENSION`) is kept, for `ingest`: its strings, as `normalize` lists them.
#[derive(Default)]
struct Extensions<'a> {
    skills: Option<Vec<&'a str>>,
}

/// A scalar, or an array or an object of scalars.
struct Shallow;

/// Any JSON value but an array or an object.
struct Scalar;

/// The skills extension's value: a string is one skill id, an array lists them (its
/// non-string items are passed over, as `normalize` does), an object or other scalar names
/// none. Escaped strings fail the read, as `Text` does.
struct Listed<'a>(Vec<&'a str>);

/// An item of the skills extension's array: a string, or a scalar passed over.
struct ListedItem<'a>(Option<&'a str>);

impl<'de: 'a, 'a> Deserialize<'de> for Extensions<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Extensions<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("extensions")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut skills = None;
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    if !is_iri(key.0) {
                        return Err(de::Error::custom("extension key"));
                    }
                    if key.0 == SKILLS_EXTENSION {
                        skills = Some(map.next_value::<Listed<'de>>()?.0); // the last one, as JSON readers keep
                    } else {
                        map.next_value::<Shallow>()?;
                    }
                }
                Ok(Extensions { skills })
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Listed<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Listed<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value at most one level deep, strings without escapes")
            }
            non_string_visits!(Listed(Vec::new()));
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Listed(vec![v]))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Err(E::custom("escaped string"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(ListedItem(item)) = seq.next_element::<ListedItem<'de>>()? {
                    items.extend(item);
                }
                Ok(Listed(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Shallow::deserialize(de::value::MapAccessDeserializer::new(map))?; // names no skill
                Ok(Listed(Vec::new()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ListedItem<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ListedItem<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar, strings without escapes")
            }
            non_string_visits!(ListedItem(None));
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ListedItem(Some(v)))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Err(E::custom("escaped string"))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar")
            }
            scalar_visits!(Scalar);
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Shallow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Shallow;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value at most one level deep")
            }
            scalar_visits!(Shallow);
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shallow, A::Error> {
                while seq.next_element::<Scalar>()?.is_some() {}
                Ok(Shallow)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shallow, A::Error> {
                while map.next_key::<IgnoredAny>()?.is_some() {
                    map.next_value::<Scalar>()?;
                }
                Ok(Shallow)
            }
        }
        d.deserialize_any(V)
    }
}

// --- the checks of fast.py, on what was read --------------------------------------------------

/// The rule set a statement's `version` selects, in the forms read here: Some(true) for
/// xAPI 2.0, Some(false) for 1.0.3, None for any other (left to the Python path).
pub(crate) fn declared_rules(version: &str) -> Option<bool> {
    match version {
        "2.0" | "2.0.0" => Some(true),
        "1.0" | "1.0.0" | "1.0.1" | "1.0.2" | "1.0.3" => Some(false),
        _ => None,
    }
}

pub(crate) fn text<'s>(value: &'s Given<Text>) -> Option<&'s str> {
    value.get().map(|t| t.0)
}

fn statement(st: &Statement, v2: bool) -> bool {
    if text(&st.id).is_some_and(|id| !is_uuid(id)) {
        return false;
    }
    if text(&st.version).is_some_and(|version| declared_rules(version) != Some(v2)) {
        return false;
    }
    for time in [&st.timestamp, &st.stored] {
        if text(time).is_some_and(|t| !is_rfc3339(t)) {
            return false;
        }
    }
    if st.authority.get().is_some_and(|a| !agent(a)) {
        return false;
    }
    if !st.actor.get().is_some_and(|a| actor(a)) {
        return false;
    }
    let Some(verb) = st.verb.get() else {
        return false;
    };
    match text(&verb.id) {
        Some(id) if id != VOIDED_VERB && is_iri(id) => {}
        _ => return false,
    }
    let Some(target) = st.object.get() else {
        return false;
    };
    let is_activity = text(&target.object_type).is_none_or(|t| t == "Activity");
    if !(if is_activity {
        activity(target)
    } else {
        agent(target)
    }) {
        return false;
    }
    if st.result.get().is_some_and(|r| !outcome(r)) {
        return false;
    }
    st.context.get().is_none_or(|c| context(c, is_activity))
}

fn iri(value: &Given<Text>) -> bool {
    text(value).is_some_and(is_iri)
}

/// An Agent, or a Group as the actor (`fast._actor`).
fn actor(actor: &Object) -> bool {
    if text(&actor.object_type) == Some("Group") {
        group(actor)
    } else {
        agent(actor)
    }
}

fn agent(agent: &Object) -> bool {
    if agent.member.is_some() {
        return false; // a Group's property
    }
    if agent.id.is_some() || agent.definition.is_some() {
        return false; // an Activity's properties
    }
    if text(&agent.object_type).is_some_and(|t| t != "Agent") {
        return false;
    }
    identified(agent)
}

/// `fast._group`: an identified Group (one IFI) or an anonymous one with members, every
/// member an Agent.
fn group(group: &Object) -> bool {
    if group.id.is_some() || group.definition.is_some() {
        return false; // an Activity's properties
    }
    let identified = ifis(group) > 0;
    if identified && !self::identified(group) {
        return false;
    }
    match group.member.get() {
        None => identified,
        Some(members) => (identified || !members.is_empty()) && members.iter().all(|m| agent(m)),
    }
}

/// How many identifiers (IFIs) an Agent or a Group gives.
fn ifis(o: &Object) -> usize {
    [
        o.mbox.is_some(),
        o.mbox_sha1sum.is_some(),
        o.openid.is_some(),
        o.account.is_some(),
    ]
    .iter()
    .filter(|given| **given)
    .count()
}

/// Exactly one identifier (IFI), well-formed.
fn identified(agent: &Object) -> bool {
    if ifis(agent) != 1 {
        return false;
    }
    if let Some(mbox) = text(&agent.mbox) {
        return is_mailto(mbox);
    }
    if let Some(sum) = text(&agent.mbox_sha1sum) {
        return sum.len() == 40 && is_hex(sum);
    }
    if agent.openid.is_some() {
        return iri(&agent.openid);
    }
    agent
        .account
        .get()
        .is_some_and(|account| is_iri(account.home_page.0))
}

fn activity(activity: &Object) -> bool {
    if activity.member.is_some()
        || activity.name.is_some()
        || activity.mbox.is_some()
        || activity.mbox_sha1sum.is_some()
        || activity.openid.is_some()
        || activity.account.is_some()
    {
        return false; // an Agent's properties
    }
    if text(&activity.object_type).is_some_and(|t| t != "Activity") || !iri(&activity.id) {
        return false;
    }
    let Some(definition) = activity.definition.get() else {
        return true;
    };
    (!definition.kind.is_some() || iri(&definition.kind))
        && (!definition.more_info.is_some() || iri(&definition.more_info))
}

fn outcome(result: &Outcome) -> bool {
    if let Some(score) = result.score.get() {
        let [scaled, raw, low, high] =
            [&score.scaled, &score.raw, &score.min, &score.max].map(|n| n.get().map(|n| n.0));
        if scaled.is_some_and(|s| !(-1.0..=1.0).contains(&s)) {
            return false;
        }
        if let (Some(l), Some(h)) = (low, high) {
            if l >= h {
                return false;
            }
        }
        if let Some(r) = raw {
            if low.is_some_and(|l| r < l) || high.is_some_and(|h| r > h) {
                return false;
            }
        }
    }
    text(&result.duration).is_none_or(is_common_duration)
}

fn context(context: &Context, is_activity: bool) -> bool {
    if !is_activity && (context.revision.is_some() || context.platform.is_some()) {
        return false;
    }
    if text(&context.registration).is_some_and(|r| !is_uuid(r)) {
        return false;
    }
    if text(&context.language).is_some_and(|l| !is_language_tag(l)) {
        return false;
    }
    let Some(groups) = context.context_activities.get() else {
        return true;
    };
    [
        &groups.parent,
        &groups.grouping,
        &groups.category,
        &groups.other,
    ]
    .iter()
    .all(|group| match group.get() {
        None => true,
        Some(OneOrMany::Many(items)) => items.iter().all(activity),
        Some(OneOrMany::One(item)) => activity(item),
    })
}

// --- formats (schemas/xapi/formats.py) ------------------------------------------------------

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `UUID_RE`: 8-4-4-4-12 hex digits, either case.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// What a byte after an IRI's colon is to `is_iri`: allowed (0), refused (1: `\x00-\x20`,
/// `< > " { } | \ ^ `` and `\x7f`), a `%` (2: two hex digits must follow) or 0xC2 (3: with
/// a continuation byte 0x80 to 0x9F it is one of U+0080 to U+009F, refused).
static IRI_BYTES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b <= 0x20 {
        table[b] = 1;
        b += 1;
    }
    let refused = *b"<>\"{}|\\^`\x7f";
    let mut i = 0;
    while i < refused.len() {
        table[refused[i] as usize] = 1;
        i += 1;
    }
    table[b'%' as usize] = 2;
    table[0xc2] = 3;
    table
};

/// `is_iri`: a scheme (`[A-Za-z][A-Za-z0-9+.-]*`), a colon, then at least one character
/// outside `\x00-\x20 < > " { } | \ ^ `` \x7f-\x9f`, and every `%` followed by two hex digits.
/// One look-up per byte (`IRI_BYTES`); U+0080 to U+009F are the UTF-8 pairs `C2 80` to
/// `C2 9F`.
fn is_iri(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphabetic() {
        return false;
    }
    let Some(colon) = b.iter().position(|c| *c == b':') else {
        return false;
    };
    if !b[1..colon]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-'))
    {
        return false;
    }
    let rest = &b[colon + 1..];
    if rest.is_empty() {
        return false;
    }
    if plain(rest) {
        return true; // the common case: nothing to look at twice
    }
    let hex = |j: usize| rest.get(j).is_some_and(u8::is_ascii_hexdigit);
    rest.iter()
        .enumerate()
        .all(|(i, c)| match IRI_BYTES[usize::from(*c)] {
            0 => true,
            2 => hex(i + 1) && hex(i + 2),
            3 => !matches!(rest.get(i + 1), Some(0x80..=0x9f)),
            _ => false,
        })
}

/// Whether every byte of `rest` is allowed after an IRI's colon as it stands (class 0 of
/// `IRI_BYTES`): the classes of eight bytes at a time are or-ed together, one test a chunk.
fn plain(rest: &[u8]) -> bool {
    let class = |c: &u8| IRI_BYTES[usize::from(*c)];
    let chunks = rest.chunks_exact(8);
    let tail = chunks.remainder();
    chunks
        .map(|chunk| chunk.iter().map(class).fold(0, |all, c| all | c))
        .chain(tail.iter().map(class))
        .all(|c| c == 0)
}

/// `MAILTO_RE`: `mailto:`, dot-separated atoms, `@`, dot-separated atoms; an atom is one or
/// more characters outside `\x00-\x20 \x7f @ < > " ( ) , : ; [ ] \ ? # / .`. Read as bytes:
/// every character refused is ASCII, and no byte of a longer UTF-8 character is one.
fn is_mailto(s: &str) -> bool {
    let Some(address) = s.as_bytes().strip_prefix(b"mailto:") else {
        return false;
    };
    let Some(at) = address.iter().position(|c| *c == b'@') else {
        return false;
    };
    let atom = |a: &[u8]| {
        !a.is_empty()
            && a.iter().all(|c| {
                !(*c <= 0x20
                    || matches!(
                        c,
                        0x7f | b'@'
                            | b'<'
                            | b'>'
                            | b'"'
                            | b'('
                            | b')'
                            | b','
                            | b':'
                            | b';'
                            | b'['
                            | b']'
                            | b'\\'
                            | b'?'
                            | b'#'
                            | b'/'
                            | b'.'
                    ))
            })
    };
    let atoms = |part: &[u8]| part.split(|c| *c == b'.').all(atom);
    atoms(&address[..at]) && atoms(&address[at + 1..])
}

/// A language tag of the common forms only: a language of 2 or 3 letters, then at most a
/// script of 4 letters and a region of 2 letters or 3 digits (`en`, `en-US`, `zh-Hant-TW`).
/// The Python check reads every RFC 5646 form; anything else is declined here.
fn is_language_tag(s: &str) -> bool {
    let mut parts = s.as_bytes().split(|c| *c == b'-'); // bytes: no char search
    let language = parts.next().unwrap_or(b"");
    if !(2..=3).contains(&language.len()) || !language.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    let mut next = parts.next();
    if let Some(script) = next {
        if script.len() == 4 && script.iter().all(u8::is_ascii_alphabetic) {
            next = parts.next();
        }
    }
    if let Some(region) = next {
        let letters = region.len() == 2 && region.iter().all(u8::is_ascii_alphabetic);
        let digits = region.len() == 3 && region.iter().all(u8::is_ascii_digit);
        if !(letters || digits) {
            return false;
        }
        next = parts.next();
    }
    next.is_none()
}

/// `_DURATION_COMMON_RE` and not ending in `P` or `T`: `P[nY][nM][nD][T[nH][nM][n[.n]S]]`.
fn is_common_duration(s: &str) -> bool {
    let b = s.as_bytes();
    if b.first() != Some(&b'P') || matches!(b.last(), Some(b'P' | b'T')) {
        return false;
    }
    let mut i = 1;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    // date part: optional nY, nM, nD in that order
    for unit in [b'Y', b'M', b'D'] {
        let save = i;
        if digits(&mut i) && i < b.len() && b[i] == unit {
            i += 1;
        } else {
            i = save;
        }
    }
    if i == b.len() {
        return true;
    }
    if b[i] != b'T' {
        return false;
    }
    i += 1;
    for unit in [b'H', b'M'] {
        let save = i;
        if digits(&mut i) && i < b.len() && b[i] == unit {
            i += 1;
        } else {
            i = save;
        }
    }
    let save = i;
    if digits(&mut i) {
        if i < b.len() && b[i] == b'.' {
            i += 1;
            if !digits(&mut i) {
                return false;
            }
        }
        if i < b.len() && b[i] == b'S' {
            i += 1;
        } else {
            i = save;
        }
    }
    i == b.len()
}

/// `_RFC3339_RE` and a day that exists: `YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm)`, not
/// year 0000, not `-00:00`. Also a valid ISO 8601 timestamp (the xAPI 1.0.3 rules).
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let d = |i: usize| b[i].is_ascii_digit();
    let num = |i: usize, n: usize| {
        b[i..i + n]
            .iter()
            .fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'))
    };
    if !((0..4).all(d) && b[4] == b'-' && d(5) && d(6) && b[7] == b'-' && d(8) && d(9))
        || b[10] != b'T'
        || !(d(11) && d(12) && b[13] == b':' && d(14) && d(15) && b[16] == b':' && d(17) && d(18))
    {
        return false;
    }
    let (year, month, day) = (num(0, 4), num(5, 2), num(8, 2));
    if year == 0 || !(1..=12).contains(&month) || day == 0 || day > 31 {
        return false;
    }
    if num(11, 2) > 23 || num(14, 2) > 59 || num(17, 2) > 59 {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    let zone = &b[i..];
    let zone_ok = match zone {
        [b'Z'] => true,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
                && u32::from(h1 - b'0') * 10 + u32::from(h2 - b'0') <= 23
                && u32::from(m1 - b'0') * 10 + u32::from(m2 - b'0') <= 59
                && !(*sign == b'-' && zone[1..] == *b"00:00")
        }
        _ => false,
    };
    if !zone_ok {
        return false;
    }
    const DAYS: [u32; 13] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if day > DAYS[month as usize] {
        return false;
    }
    month != 2 || day != 29 || (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
}

/// True when the JSON statement in `raw` is certainly valid under the xAPI 2.0 (`v2`) or
/// 1.0.3 rules; false when the every-error validator must decide (or the bytes are not
/// JSON this reader takes).
#[pyfunction]
fn accepts(raw: &[u8], v2: bool) -> bool {
    read(raw).is_some_and(|st| statement(&st, v2))
}

/// The statement in `raw`, read in place, or None when the bytes are not UTF-8 or not
/// JSON this reader takes. The UTF-8 check is one pass over the whole record (which also
/// covers values the reader skips); serde_json then reads `&str` without checking each
/// string again.
pub(crate) fn read(raw: &[u8]) -> Option<Statement<'_>> {
    let text = std::str::from_utf8(raw).ok()?;
    serde_json::from_str::<Obj<Statement>>(text)
        .ok()
        .map(|Obj(st)| st)
}

#[pymodule]
fn skillstream_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(accepts, m)?)?;
    m.add_class::<ingest::Normalizer>()?;
    m.add_function(wrap_pyfunction!(construct::construct, m)?)?;
    m.add_function(wrap_pyfunction!(ids::statement_key, m)?)?;
    m.add_function(wrap_pyfunction!(ids::uuid_text, m)?)?;
    m.add_function(wrap_pyfunction!(ids::uuid5_halves, m)?)?;
    m.add_function(wrap_pyfunction!(ingest::micros_of, m)?)?;
    m.add_function(wrap_pyfunction!(ingest::datetime_of, m)?)?;
    m.add_function(wrap_pyfunction!(pack::pack, m)?)?;
    m.add_function(wrap_pyfunction!(untrack::untrack, m)?)?;
    m.add("SKILLS_EXTENSION", SKILLS_EXTENSION)?;
    Ok(())
}
