//! `Normalizer.ingest(raw, v2)`: validation and normalisation of one record in one read.
//!
//! For a record the validator's fast path accepts (`crate::statement`), this is what
//! `schemas.normalize.normalize` makes of the statement, worked out from the borrowed read
//! instead of from a parsed dict: the event, or its values for Python to finish (a time
//! or an id Python works out, a Group's several learners), or the ignored verb's outcome.
//! Anything outside the common shapes (a declared version other than those
//! `declared_rules` reads, a competency IRI whose last segment is not ASCII, integer scores
//! beyond 2**52, a negative zero in a score; docs/engine.md lists them all) is declined with
//! `None`, and the Python path decides as before.
//! `schemas.normalize.NativeIngest` turns values into events, and
//! `tests/unit/schemas/test_native_ingest.py` holds the two paths to the same events.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple, PyType};
use rustc_hash::{FxHashMap, FxHashSet};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::construct::construct;
use crate::{
    declared_rules, read, statement, text, Extensions, Given, Object, OneOrMany, Outcome, Statement,
};

/// Keys remembered, as `schemas.identity` bounds its cache.
const KEY_CACHE_LIMIT: usize = 1 << 17;

/// A kind of `schemas.events.EventKind`, by its position in the enum.
type Kind = usize;

/// What the catalog says of an activity (`schemas.catalog.ActivityMapping`).
struct Mapping {
    kind: Option<Kind>,
    skills: Vec<String>,
}

/// The catalog, the vocabulary and the learner-key secret, as `normalize` reads them.
/// Built by `schemas.normalize.NativeIngest`, and built again when the catalog changes.
///
/// The catalog's and the vocabulary's maps hash with FxHash: their keys come from the
/// operator's files, and a record only looks them up, several times per statement. The
/// learner keys come from records, so their map keeps std's keyed SipHash (a flood of
/// chosen colliding identifiers cannot slow it down).
#[pyclass(module = "skillstream_native")]
pub struct Normalizer {
    kinds: Vec<PyObject>,
    other: Kind,
    voiding: Kind,
    course_failed: Kind,
    skill_assessed: Kind,
    course_completed: Kind,
    course_passed: Kind,
    verbs: FxHashMap<String, Kind>,
    /// verb -> activity type -> kind
    pairs: FxHashMap<String, FxHashMap<String, Kind>>,
    /// verb -> its `schemas.normalize.Ignored` outcome, shared by every statement of it
    ignored: FxHashMap<String, PyObject>,
    activities: FxHashMap<String, Mapping>,
    skill_iris: FxHashMap<String, String>,
    competency_types: FxHashSet<String>,
    /// Catalog skill id -> the same id as a Python string, shared by every event.
    skills: FxHashMap<String, Py<PyString>>,
    /// The verbs, activity types and activity ids the vocabulary and the catalog name, as
    /// Python strings shared by every event that carries them (`shared`): one look-up
    /// where each event would make its own copy.
    names: FxHashMap<String, Py<PyString>>,
    cmi5_category: String,
    satisfied: String,
    secret: Hmac<Sha256>,
    /// The IFI as sent (an mbox) or canonical -> the learner key.
    keys: Mutex<HashMap<String, Py<PyString>>>,
    /// An event's values with every key in `LearningEvent`'s field order (`fields`, from
    /// the model), `schema_version` set: each event's dict is a copy, given its values in
    /// place, so that it never grows (a dict built key by key is resized twice on the way
    /// to 15).
    template: Py<PyDict>,
    /// `LearningEvent` and its field names as the set every instance shares
    /// (`schemas.trusted.trusted`'s): an event whose values are all worked out here is
    /// built here. None when `schemas.events.build_event` is not `trusted`.
    event_class: Option<(Py<PyType>, PyObject)>,
}

/// Why `ingest` declines: the Python path decides.
struct Decline;

/// A statement's normalisation, before it becomes Python values.
enum Normalized<'a> {
    Ignored(&'a str),
    Unknown(&'a str),
    Event(Event<'a>),
}

struct Event<'a> {
    /// None when the statement has none: Python derives it from the parsed statement.
    id: Option<&'a str>,
    kind: Kind,
    timestamp: Option<&'a str>,
    stored: Option<&'a str>,
    verb: &'a str,
    activity_id: Option<&'a str>,
    activity_type: Option<&'a str>,
    skills: Vec<&'a Py<PyString>>,
    score: Option<f64>,
    success: Option<bool>,
    completion: Option<bool>,
    duration: Option<&'a str>,
    /// One for an Agent; a Group's members (or the Group itself when it lists none).
    keys: Vec<Key<'a>>,
}

/// The learner's identifier: an mbox (hashed first) or the canonical IFI of the others.
enum Key<'a> {
    Mbox(&'a str),
    Canonical(String),
}

fn activities_of<'s, 'a>(group: &'s Given<OneOrMany<'a>>) -> &'s [Object<'a>] {
    match group.get() {
        None => &[],
        Some(OneOrMany::Many(items)) => items,
        Some(OneOrMany::One(item)) => std::slice::from_ref(item.as_ref()),
    }
}

/// `schemas.normalize.skill_of_iri`, for a segment in ASCII (anything else declines:
/// Unicode lower-casing is left to Python's own).
fn skill_of_iri(iri: &str) -> Result<String, Decline> {
    let base = iri.split('#').next().unwrap_or("");
    let base = base.split('?').next().unwrap_or("");
    let base = base.trim_end_matches('/');
    let path = match base.find(':') {
        Some(i) => &base[i + 1..],
        None => base,
    };
    let segment = if path.contains('/') {
        path.rsplit('/').next()
    } else {
        path.rsplit(':').next()
    }
    .unwrap_or("");
    if segment.is_ascii() {
        Ok(segment.to_ascii_lowercase())
    } else {
        Err(Decline)
    }
}

/// A number of the score as Python computes with it: integers of more than 52 bits are
/// declined (Python subtracts them exactly, a double might not), and so is a zero with its
/// sign set (serde reads `-0` as the double -0.0, orjson as the integer 0; `-0.0` is -0.0
/// to both, and the two spellings are not told apart here).
fn exact(n: &Given<crate::Number>) -> Result<Option<f64>, Decline> {
    match n.get() {
        Some(crate::Number(v, _)) if *v == 0.0 && v.is_sign_negative() => Err(Decline),
        Some(crate::Number(v, true)) if v.abs() > (1u64 << 52) as f64 => Err(Decline),
        Some(crate::Number(v, _)) => Ok(Some(*v)),
        None => Ok(None),
    }
}

/// `normalize`'s score: `scaled`, else `(raw - min) / (max - min)` clamped to [-1, 1].
fn score(result: &Outcome) -> Result<Option<f64>, Decline> {
    let Some(score) = result.score.get() else {
        return Ok(None);
    };
    if let Some(scaled) = exact(&score.scaled)? {
        return Ok(Some(scaled)); // the validator held it to [-1, 1]
    }
    let (Some(raw), Some(low), Some(high)) =
        (exact(&score.raw)?, exact(&score.min)?, exact(&score.max)?)
    else {
        return Ok(None);
    };
    if high <= low {
        return Ok(None);
    }
    let span = high - low;
    let value = if span.is_finite() {
        (raw - low) / span
    } else {
        (raw / 2.0 - low / 2.0) / (high / 2.0 - low / 2.0)
    };
    if !value.is_finite() {
        return Ok(None);
    }
    Ok(Some(value.clamp(-1.0, 1.0)))
}

fn listed<'a>(found: &mut Vec<Cow<'a, str>>, extensions: &Given<Extensions<'a>>) {
    if let Some(skills) = extensions.get().and_then(|e| e.skills.as_ref()) {
        found.extend(skills.iter().map(|s| Cow::Borrowed(*s)));
    }
}

/// The microseconds since the epoch of an event time in the shape simulators and LMSs
/// send: `YYYY-MM-DDTHH:MM:SS`, optionally `.` and 1 to 9 digits, then `Z` or `±HH:MM`,
/// in the years 1900 to 9000. The same number `streams.core.state.to_micros` makes of
/// what `schemas.normalize.event_time` reads (`datetime.fromisoformat`, which drops the
/// digits past the sixth); None for any other text, which the Python side works out.
#[pyfunction]
pub(crate) fn micros_of(timestamp: &str) -> Option<i64> {
    let b = timestamp.as_bytes();
    let number = |from: usize, to: usize| -> Option<i64> {
        b.get(from..to)?.iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1900..=9000).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut end = 19;
    let mut fraction = 0;
    if at(end, b'.') {
        let digits = b[end + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        let kept = digits.min(6);
        fraction = number(end + 1, end + 1 + kept)? * 10i64.pow(6 - kept as u32);
        end += 1 + digits;
    }
    let offset = match &b[end..] {
        b"Z" => 0,
        [sign, _, _, b':', _, _] if matches!(sign, b'+' | b'-') => {
            let (hours, minutes) = (number(end + 1, end + 3)?, number(end + 4, end + 6)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3_600 + minutes * 60;
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
    Some((seconds - offset) * 1_000_000 + fraction)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `streams.core.state.from_micros`: the UTC `datetime` of a time in microseconds since
/// the epoch (`utc_datetime`). Years 1 to 9999; an `OverflowError` for any other, as
/// `python_from_micros` raises.
#[pyfunction]
pub(crate) fn datetime_of(py: Python<'_>, micros: i64) -> PyResult<Bound<'_, PyAny>> {
    let days = micros.div_euclid(86_400_000_000);
    if !(-719_162..=2_932_896).contains(&days) {
        return Err(pyo3::exceptions::PyOverflowError::new_err(format!(
            "{micros} microseconds since the epoch is not a time of the years 1 to 9999"
        )));
    }
    utc_datetime(py, micros)
}

/// The `datetime` in UTC (zone `datetime.UTC`) of a time in microseconds since the epoch,
/// in the years 1 to 9999: what `datetime.fromisoformat` reads of the time written in UTC
/// with `Z`, so `schemas.normalize.event_time` of a timestamp `micros_of` reads (a
/// timestamp with an offset is the same instant, as `astimezone(UTC)` would give it).
/// Made by the `datetime` module's own constructor (`crate::utc`), not by reading text.
fn utc_datetime(py: Python<'_>, micros: i64) -> PyResult<Bound<'_, PyAny>> {
    let seconds = micros.div_euclid(1_000_000);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let second = seconds.rem_euclid(86_400);
    crate::utc::datetime(
        py,
        [
            year,
            month,
            day,
            second / 3_600,
            second / 60 % 60,
            second % 60,
            micros.rem_euclid(1_000_000),
        ],
    )
}

/// The date (year, month, day) of a day counted from 1970-01-01: `days_from_civil`
/// undone.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (counted in
/// 400-year eras of 146,097 days, each year starting in March, so that the leap day
/// falls last).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `normalize.duration_seconds` of a duration `is_common_duration` accepted
/// (`P[nY][nM][nD][T[nH][nM][n[.n]S]]`): each number read as Python's `float` reads it,
/// times the unit's seconds, added in the order Python adds them; None if not finite.
fn duration_seconds(duration: &str) -> Option<f64> {
    const DATE: [(u8, f64); 3] = [
        (b'Y', 365.0 * 86_400.0),
        (b'M', 30.0 * 86_400.0),
        (b'D', 86_400.0),
    ];
    const TIME: [(u8, f64); 3] = [(b'H', 3_600.0), (b'M', 60.0), (b'S', 1.0)];
    let (date, time) = match duration[1..].split_once('T') {
        Some((date, time)) => (date, time),
        None => (&duration[1..], ""),
    };
    let mut total = 0.0_f64;
    for (part, units) in [(date, &DATE), (time, &TIME)] {
        let mut rest = part;
        for (unit, seconds) in units {
            if let Some(end) = rest.bytes().position(|b| b == *unit) {
                let number: f64 = rest[..end].parse().ok()?;
                total += number * seconds;
                rest = &rest[end + 1..];
            }
        }
    }
    total.is_finite().then_some(total)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// `schemas.identity._key`: "lrn_" and the first 26 characters of the lower-case base32
/// (RFC 4648) of the first 16 bytes of HMAC-SHA256(secret, canonical).
fn learner_key(secret: &Hmac<Sha256>, canonical: &str) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut mac = secret.clone();
    mac.update(canonical.as_bytes());
    let digest = mac.finalize().into_bytes();
    let bits = u128::from_be_bytes(digest[..16].try_into().expect("16 bytes"));
    let mut out = String::with_capacity(30);
    out.push_str("lrn_");
    for i in 0..26 {
        // 26 groups of 5 bits from the top; the last holds the 3 low bits, padded
        let shift = 128i32 - 5 * (i + 1);
        let group = if shift >= 0 {
            (bits >> shift) & 31
        } else {
            (bits << -shift) & 31
        };
        out.push(ALPHABET[group as usize] as char);
    }
    out
}

impl Normalizer {
    fn event<'a>(&'a self, st: &'a Statement<'a>) -> Result<Normalized<'a>, Decline> {
        let id = text(&st.id);
        let verb = st.verb.get().and_then(|v| text(&v.id)).ok_or(Decline)?;
        let target = st.object.get().ok_or(Decline)?;
        if self.ignored.contains_key(verb) {
            return Ok(Normalized::Ignored(verb));
        }
        let is_activity = text(&target.object_type).is_none_or(|t| t == "Activity");
        let (activity_id, activity_type) = if is_activity {
            let definition = target.definition.get();
            (text(&target.id), definition.and_then(|d| text(&d.kind)))
        } else {
            (None, None)
        };
        let mut kind = activity_type
            .and_then(|t| self.pairs.get(verb).and_then(|by_type| by_type.get(t)))
            .copied();
        if kind.is_none() {
            kind = self.verbs.get(verb).copied();
        }
        let Some(mut kind) = kind else {
            return Ok(Normalized::Unknown(verb));
        };
        let context = st.context.get();
        let groups = context.and_then(|c| c.context_activities.get());
        if (kind == self.course_completed || kind == self.course_passed)
            && verb != self.satisfied
            && groups.is_some_and(|g| {
                activities_of(&g.category)
                    .iter()
                    .any(|a| text(&a.id) == Some(self.cmi5_category.as_str()))
            })
        {
            kind = if kind == self.course_completed {
                self.other
            } else {
                self.skill_assessed
            };
        }
        let keys = self.keys_of(st.actor.get().ok_or(Decline)?)?;

        let mapping = activity_id.and_then(|a| self.activities.get(a));
        if let Some(declared) = mapping.and_then(|m| m.kind) {
            if declared != kind {
                kind = self.catalog_kind(kind, declared);
            }
        }
        let result = st.result.get();
        let (score, success, completion, duration) = match result {
            Some(r) => (
                score(r)?,
                r.success.get().copied(),
                r.completion.get().copied(),
                text(&r.duration),
            ),
            None => (None, None, None, None),
        };
        let mut found: Vec<Cow<'a, str>> = Vec::new();
        if let Some(groups) = groups {
            for group in [
                &groups.parent,
                &groups.grouping,
                &groups.category,
                &groups.other,
            ] {
                for activity in activities_of(group) {
                    let Some(iri) = text(&activity.id) else {
                        continue;
                    };
                    if let Some(named) = self.skill_iris.get(iri) {
                        found.push(Cow::Borrowed(named));
                        continue;
                    }
                    let competency = activity
                        .definition
                        .get()
                        .and_then(|d| text(&d.kind))
                        .is_some_and(|t| self.competency_types.contains(t));
                    if competency {
                        match self.activities.get(iri) {
                            Some(mapped) => found
                                .extend(mapped.skills.iter().map(|s| Cow::Borrowed(s.as_str()))),
                            None => found.push(Cow::Owned(skill_of_iri(iri)?)),
                        }
                    }
                }
            }
        }
        if let Some(c) = context {
            listed(&mut found, &c.extensions);
        }
        if let Some(r) = result {
            listed(&mut found, &r.extensions);
        }
        if let Some(m) = mapping {
            found.extend(m.skills.iter().map(|s| Cow::Borrowed(s.as_str())));
        } else if let Some(a) = activity_id {
            if let Some(named) = self.skill_iris.get(a) {
                found.push(Cow::Borrowed(named));
            } else if activity_type.is_some_and(|t| self.competency_types.contains(t)) {
                found.push(Cow::Owned(skill_of_iri(a)?));
            }
        }
        let mut skills: Vec<(&'a String, &'a Py<PyString>)> = found
            .iter()
            .filter_map(|s| self.skills.get_key_value(s.as_ref()))
            .collect();
        skills.sort_unstable_by(|a, b| a.0.cmp(b.0));
        skills.dedup_by(|a, b| a.0 == b.0);
        Ok(Normalized::Event(Event {
            id,
            kind,
            timestamp: text(&st.timestamp),
            stored: text(&st.stored),
            verb,
            activity_id,
            activity_type,
            skills: skills.into_iter().map(|(_, s)| s).collect(),
            score,
            success,
            completion,
            duration,
            keys,
        }))
    }

    /// `normalize._catalog_kind`: the catalog re-labels, within limits.
    fn catalog_kind(&self, inferred: Kind, declared: Kind) -> Kind {
        if inferred == self.other || declared == self.voiding {
            inferred
        } else if inferred == self.course_failed {
            if declared == self.skill_assessed {
                declared
            } else {
                inferred
            }
        } else {
            declared
        }
    }

    /// `schemas.identity.learner_keys`: the identifiers of a Group's members, else of the
    /// actor itself (an Agent, or a Group listing no member). The validator held each
    /// member to an Agent with one identifier.
    fn keys_of<'a>(&self, actor: &'a Object<'a>) -> Result<Vec<Key<'a>>, Decline> {
        if text(&actor.object_type) == Some("Group") {
            if let Some(members) = actor.member.get().filter(|m| !m.is_empty()) {
                return members.iter().map(|m| self.key_of(m)).collect();
            }
        }
        Ok(vec![self.key_of(actor)?])
    }

    /// The identifier `schemas.identity` keys an Agent or an identified Group by.
    fn key_of<'a>(&self, agent: &'a Object<'a>) -> Result<Key<'a>, Decline> {
        if let Some(mbox) = text(&agent.mbox) {
            return Ok(Key::Mbox(mbox));
        }
        // concatenated, not formatted: `format!` costs several times as much, once per
        // statement
        if let Some(sum) = text(&agent.mbox_sha1sum) {
            let mut key = ["mbox_sha1sum:", sum].concat();
            key.make_ascii_lowercase(); // the prefix is lower case already
            return Ok(Key::Canonical(key));
        }
        if let Some(account) = agent.account.get() {
            return Ok(Key::Canonical(
                ["account:", account.home_page.0, "|", account.name.0].concat(),
            ));
        }
        if let Some(openid) = text(&agent.openid) {
            return Ok(Key::Canonical(["openid:", openid].concat()));
        }
        Err(Decline)
    }

    /// `text` as a Python string: the one `names` holds for it, else a new one.
    fn shared<'py>(&self, py: Python<'py>, text: &str) -> Bound<'py, PyString> {
        match self.names.get(text) {
            Some(name) => name.bind(py).clone(),
            None => PyString::new(py, text),
        }
    }

    fn key(&self, py: Python<'_>, key: &Key) -> Py<PyString> {
        let remembered = match key {
            Key::Mbox(m) => m,
            Key::Canonical(c) => c.as_str(),
        };
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(found) = keys.get(remembered) {
            return found.clone_ref(py);
        }
        let made = match key {
            Key::Mbox(m) => {
                let canonical = format!("mbox_sha1sum:{}", hex(&Sha1::digest(m.as_bytes())));
                learner_key(&self.secret, &canonical)
            }
            Key::Canonical(c) => learner_key(&self.secret, c),
        };
        let made = PyString::new(py, &made).unbind();
        if keys.len() >= KEY_CACHE_LIMIT {
            keys.clear();
        }
        keys.insert(remembered.to_owned(), made.clone_ref(py));
        made
    }
}

fn kind_index(kinds: &[PyObject], kind: &Bound<'_, PyAny>) -> PyResult<Kind> {
    kinds
        .iter()
        .position(|k| k.is(kind))
        .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("not an EventKind"))
}

#[pymethods]
impl Normalizer {
    /// `kinds`: the EventKind members; `special`: the six of them `normalize` names
    /// (other, voiding, course_failed, skill_assessed, course_completed, course_passed);
    /// `verbs`: verb -> kind; `pairs`: (verb, activity type) -> kind; `ignored`: verb -> its outcome;
    /// `activities`: activity IRI -> (kind or None, skill ids); `skill_iris`: IRI -> skill
    /// id; `competency_types`, `skills`: ids; `cmi5_category`, `satisfied`: the two IRIs
    /// of the cmi5 rule; `secret`: the learner-key secret; `fields`: `LearningEvent`'s
    /// field names, in order; `event_class`: `LearningEvent` and the set of its field names
    /// its instances share, when `schemas.trusted.trusted` builds them (else None).
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (kinds, special, verbs, pairs, ignored, activities, skill_iris, competency_types, skills, cmi5_category, satisfied, secret, fields, event_class=None))]
    fn new(
        py: Python<'_>,
        kinds: Vec<PyObject>,
        special: Vec<Bound<'_, PyAny>>,
        verbs: FxHashMap<String, Bound<'_, PyAny>>,
        pairs: FxHashMap<(String, String), Bound<'_, PyAny>>,
        ignored: FxHashMap<String, PyObject>,
        activities: FxHashMap<String, (Option<Bound<'_, PyAny>>, Vec<String>)>,
        skill_iris: FxHashMap<String, String>,
        competency_types: FxHashSet<String>,
        skills: Vec<Bound<'_, PyString>>,
        cmi5_category: String,
        satisfied: String,
        secret: &Bound<'_, PyBytes>,
        fields: Vec<Bound<'_, PyString>>,
        event_class: Option<(Bound<'_, PyType>, Bound<'_, PyAny>)>,
    ) -> PyResult<Self> {
        let index = |k: &Bound<'_, PyAny>| kind_index(&kinds, k);
        let [other, voiding, course_failed, skill_assessed, course_completed, course_passed] =
            <[Bound<'_, PyAny>; 6]>::try_from(special).map_err(|_| {
                pyo3::exceptions::PyValueError::new_err("six special kinds expected")
            })?;
        let secret = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        let template = PyDict::new(py);
        for key in fields {
            template.set_item(key, py.None())?;
        }
        template.set_item(pyo3::intern!(py, "schema_version"), 1)?;
        let named = verbs
            .keys()
            .chain(
                pairs
                    .keys()
                    .flat_map(|(verb, activity_type)| [verb, activity_type]),
            )
            .chain(activities.keys())
            .chain(competency_types.iter());
        let names = named
            .map(|name| (name.clone(), PyString::new(py, name).unbind()))
            .collect();
        Ok(Normalizer {
            names,
            template: template.unbind(),
            other: index(&other)?,
            voiding: index(&voiding)?,
            course_failed: index(&course_failed)?,
            skill_assessed: index(&skill_assessed)?,
            course_completed: index(&course_completed)?,
            course_passed: index(&course_passed)?,
            verbs: verbs
                .iter()
                .map(|(v, k)| Ok((v.clone(), index(k)?)))
                .collect::<PyResult<_>>()?,
            pairs: {
                let mut by_verb: FxHashMap<String, FxHashMap<String, Kind>> = FxHashMap::default();
                for ((verb, activity_type), k) in &pairs {
                    by_verb
                        .entry(verb.clone())
                        .or_default()
                        .insert(activity_type.clone(), index(k)?);
                }
                by_verb
            },
            ignored,
            activities: activities
                .into_iter()
                .map(|(a, (kind, skills))| {
                    let kind = kind.map(|k| index(&k)).transpose()?;
                    Ok((a, Mapping { kind, skills }))
                })
                .collect::<PyResult<_>>()?,
            skill_iris,
            competency_types,
            skills: skills
                .into_iter()
                .map(|s| Ok((s.to_str()?.to_owned(), s.unbind())))
                .collect::<PyResult<_>>()?,
            cmi5_category,
            satisfied,
            secret,
            keys: Mutex::new(HashMap::new()),
            kinds,
            event_class: event_class.map(|(cls, names)| (cls.unbind(), names.unbind())),
        })
    }

    /// Take over the learner keys another normalizer remembered (same secret: the caller's
    /// promise), so that a catalog change does not make every key be worked out again.
    fn adopt_keys(&self, other: &Normalizer) {
        if std::ptr::eq(self, other) {
            return;
        }
        let taken = std::mem::take(
            &mut *other
                .keys
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        *self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = taken;
    }

    /// One record, as one of:
    /// - None: the Python path must decide (see the module docs);
    /// - the `Ignored` outcome given for a verb the vocabulary ignores;
    /// - `(1, verb)` for a verb it does not know;
    /// - `(event,)`: the event, built here when every value is final (the time made here,
    ///   the id given, one learner) and `event_class` was given;
    /// - else `(values, stored)`: the event's values as a dict, for the caller to finish,
    ///   and the statement's stored time. `time` is the event time (a UTC datetime) when
    ///   `micros_of` reads the timestamp, else the timestamp as sent (or None);
    ///   `statement_id` is None when the statement has none (the caller derives it from
    ///   the parsed statement); `learner` is a tuple of keys when a Group credits several
    ///   learners (an event each).
    ///
    /// An event's values hold `_derived` (`schemas.events.DERIVED`) when the time is made
    /// here and the id is a canonical UUID. `v2`: the rules when the statement declares no
    /// version (true: xAPI 2.0, false: 1.0.3).
    fn ingest(&self, py: Python<'_>, raw: &[u8], v2: bool) -> PyResult<Option<PyObject>> {
        let Some(st) = read(raw) else {
            return Ok(None);
        };
        let v2 = match text(&st.version) {
            None => v2,
            Some(version) => match declared_rules(version) {
                Some(rules) => rules,
                None => return Ok(None),
            },
        };
        if !statement(&st, v2) {
            return Ok(None);
        }
        let event = match self.event(&st) {
            Err(Decline) => return Ok(None),
            Ok(Normalized::Ignored(verb)) => return Ok(Some(self.ignored[verb].clone_ref(py))),
            Ok(Normalized::Unknown(verb)) => {
                return Ok(Some((1, verb).into_pyobject(py)?.into_any().unbind()))
            }
            Ok(Normalized::Event(event)) => event,
        };
        let learner = match event.keys.as_slice() {
            [one] => self.key(py, one).into_any(),
            many => {
                // the members' keys, each once, in their order (two members may be one
                // learner, named by mbox and by its SHA-1)
                let mut seen: FxHashSet<String> = FxHashSet::default();
                let mut learners: Vec<Py<PyString>> = Vec::with_capacity(many.len());
                for key in many {
                    let learner = self.key(py, key);
                    if seen.insert(learner.bind(py).to_str()?.to_owned()) {
                        learners.push(learner);
                    }
                }
                if learners.len() == 1 {
                    learners.pop().expect("one learner").into_any()
                } else {
                    PyTuple::new(py, learners)?.into_any().unbind()
                }
            }
        };
        let skills = PyTuple::new(py, event.skills.iter().map(|s| s.clone_ref(py)))?;
        let values = self.template.bind(py).copy()?;
        let lower = event.id.map(str::to_ascii_lowercase);
        let key = lower.as_deref().and_then(crate::ids::statement_key);
        let statement_id = lower.map(|id| PyString::new(py, &id));
        let mut complete = statement_id.is_some() && learner.bind(py).is_instance_of::<PyString>();
        let time = match event.timestamp {
            Some(timestamp) => match micros_of(timestamp) {
                Some(micros) => {
                    let time = utc_datetime(py, micros)?;
                    if let (Some(id), Some((hi, lo, _))) = (&statement_id, key) {
                        // what the profile core would otherwise work out again from them
                        let derived = (id, &time, hi, lo, micros);
                        values.set_item(pyo3::intern!(py, "_derived"), derived)?;
                    }
                    time.into_any()
                }
                None => {
                    complete = false;
                    PyString::new(py, timestamp).into_any()
                }
            },
            None => {
                complete = false;
                py.None().into_bound(py)
            }
        };
        // the template holds None for every field: an absent value is left as it is
        put(&values, pyo3::intern!(py, "statement_id"), statement_id)?;
        values.set_item(pyo3::intern!(py, "learner"), learner)?;
        values.set_item(
            pyo3::intern!(py, "kind"),
            self.kinds[event.kind].clone_ref(py),
        )?;
        values.set_item(pyo3::intern!(py, "time"), time)?;
        values.set_item(pyo3::intern!(py, "verb"), self.shared(py, event.verb))?;
        put(
            &values,
            pyo3::intern!(py, "activity_id"),
            event.activity_id.map(|a| self.shared(py, a)),
        )?;
        put(
            &values,
            pyo3::intern!(py, "activity_type"),
            event.activity_type.map(|t| self.shared(py, t)),
        )?;
        values.set_item(pyo3::intern!(py, "skills"), skills)?;
        put(&values, pyo3::intern!(py, "score"), event.score)?;
        put(&values, pyo3::intern!(py, "success"), event.success)?;
        put(&values, pyo3::intern!(py, "completion"), event.completion)?;
        put(&values, pyo3::intern!(py, "duration"), event.duration)?;
        put(
            &values,
            pyo3::intern!(py, "duration_seconds"),
            event.duration.and_then(duration_seconds),
        )?;
        if let (true, Some((cls, names))) = (complete, &self.event_class) {
            // every value is final: the event itself, as NativeIngest would build it
            let event = construct(
                cls.bind(py),
                &values,
                names.bind(py),
                &py.None().into_bound(py),
            )?;
            return Ok(Some(PyTuple::new(py, [event])?.into_any().unbind()));
        }
        let got = (values, event.stored).into_pyobject(py)?;
        Ok(Some(got.into_any().unbind()))
    }
}

/// Sets `key` to `value` when there is one; leaves the template's None otherwise.
fn put<'py, T: IntoPyObject<'py>>(
    values: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
    value: Option<T>,
) -> PyResult<()> {
    match value {
        Some(value) => values.set_item(key, value),
        None => Ok(()),
    }
}
