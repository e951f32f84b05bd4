//! The same answer as the pass over the matches ([`super::visit`]), from
//! the index's bits ([`ValueBits`]): the filters and the rights rule are
//! and-ed into the match's bits, each facet is one count of bits, and the
//! page is found by walking the listing order down from the newest until it
//! is full (or, for a set too sparse for the walk to pay, by ranking the
//! set's programs). Its cost follows the catalog's size in words (a million programs: 15,625),
//! not the number of matches, so a broad search of a catalog that mirrors a
//! peer's programs costs about what it does without them.

use super::{Best, Counts, Key, Me, OriginIs, Paging, Position, Resolved};
use crate::catalog::bits;
use crate::catalog::index::{MatchSet, Tables, ValueBits};
use crate::domain::{Audience, Facets, ProgramStatus, Sort};

/// What [`super::visit`] answers, or `None` for a search this does not
/// answer: filters on what only the entry holds (dates, durations,
/// codecs), publication after an instant, sorts by date aired or title,
/// and catalogs with programs in a language that has no bits.
pub(super) fn answer(
    t: &Tables,
    r: &Resolved<'_>,
    matched: Option<&MatchSet>,
    paging: &Paging<'_>,
) -> Option<(u64, Facets, Vec<i64>, Option<Position>)> {
    let v = &t.values;
    if r.cold_filters
        || r.listed_after.is_some()
        || !matches!(paging.sort, Sort::Newest | Sort::Relevance)
        || v.languages_past > 0
        || r.available_at == Some(i64::MAX)
        || r.now == i64::MAX
    {
        return None;
    }
    let n = bits::words_for(t.hot.len());
    let x = kept(t, r, matched, n);
    let (total, counts) = counts(t, r, &x, n);
    let (chosen, next) = paging.page(firsts(t, &x, paging));
    Some((total, counts.facets(t), chosen, next))
}

/// One value's bits, or none.
fn of(list: &[Vec<u64>], i: usize) -> &[u64] {
    list.get(i).map_or(&[], |b| &b[..])
}

/// The union of some values' bits, `n` words.
fn union<'a>(n: usize, sets: impl Iterator<Item = &'a [u64]>) -> Vec<u64> {
    let mut u = vec![0u64; n];
    for s in sets {
        bits::or(&mut u, s);
    }
    u
}

/// The programs that are always open or whose window is open at `at`.
fn open_at(t: &Tables, n: usize, at: i64) -> Vec<u64> {
    let v = &t.values;
    let mut o = vec![!0u64; n];
    bits::and_not(&mut o, &v.windowed);
    bits::or(&mut o, &v.open_at(&t.hot, at));
    o
}

/// The programs of the match that the viewer may see and the filters keep.
fn kept(t: &Tables, r: &Resolved<'_>, matched: Option<&MatchSet>, n: usize) -> Vec<u64> {
    let v = &t.values;
    let published = &v.status[ProgramStatus::Published as usize];
    let mut x = union(n, r.statuses.iter().map(|s| &v.status[*s as usize][..]));
    if let Some(m) = matched {
        bits::and(&mut x, &m.bits());
    }
    match r.me {
        None => {}
        Some(Me { peer: true, .. }) => {
            bits::and(&mut x, published);
            bits::and(&mut x, &v.audience[Audience::All as usize]);
            bits::and_not(&mut x, &t.mirrored);
            if let Some(at) = r.available_at {
                bits::and(&mut x, &open_at(t, n, at));
            }
        }
        Some(Me { station, national, .. }) => {
            let mut others = union(
                n,
                [Audience::Cluster, Audience::All]
                    .into_iter()
                    .chain(national.then_some(Audience::National))
                    .map(|a| &v.audience[a as usize][..]),
            );
            let mut named = union(n, std::iter::once(r.named));
            bits::and(&mut named, &v.audience[Audience::Stations as usize]);
            bits::or(&mut others, &named);
            bits::and(&mut others, published);
            if let Some(at) = r.available_at {
                bits::and(&mut others, &open_at(t, n, at));
            }
            if let Some(s) = station {
                bits::or(&mut others, of(&v.station, s as usize));
            }
            bits::and(&mut x, &others);
        }
    }
    let f = &r.f.filter;
    match r.origin {
        OriginIs::Any => {}
        OriginIs::Local => bits::and_not(&mut x, &t.mirrored),
        OriginIs::Peer(Some(p)) => {
            bits::and(&mut x, &t.mirrored);
            bits::and(&mut x, of(&v.station, p as usize));
        }
        OriginIs::Peer(None) => x.fill(0),
    }
    if let Some(stations) = &r.stations {
        bits::and(&mut x, &union(n, stations.iter().map(|&s| of(&v.station, s as usize))));
    }
    if !f.kinds.is_empty() {
        bits::and(&mut x, &union(n, f.kinds.iter().map(|&k| &v.kind[k as usize][..])));
    }
    if !f.genres.is_empty() {
        bits::and(&mut x, &union(n, f.genres.iter().map(|&g| &v.genre[g as usize][..])));
    }
    if let Some(languages) = &r.languages {
        bits::and(
            &mut x,
            &union(n, languages.iter().map(|&l| of(&v.language, l as usize))),
        );
    }
    x
}

/// The total and the facets' counts of the kept programs `x`.
fn counts(t: &Tables, r: &Resolved<'_>, x: &[u64], n: usize) -> (u64, Counts) {
    let v: &ValueBits = &t.values;
    let mut c = Counts::new(t);
    let total = bits::count(x);
    if total == 0 {
        return (0, c);
    }
    for (s, count) in c.station.iter_mut().enumerate() {
        *count = bits::count_and(x, of(&v.station, s));
    }
    let mut mirrored = x.to_vec();
    bits::and(&mut mirrored, &t.mirrored);
    let from_peers = bits::count(&mirrored);
    c.local = total - from_peers;
    if from_peers > 0 {
        for (s, count) in c.peer.iter_mut().enumerate() {
            if v.mirrored_count.get(s).is_some_and(|&m| m > 0) {
                *count = bits::count_and(&mirrored, of(&v.station, s));
            }
        }
    }
    for (k, count) in c.kind.iter_mut().enumerate() {
        *count = bits::count_and(x, &v.kind[k]);
    }
    for (g, count) in c.genre.iter_mut().enumerate() {
        *count = bits::count_and(x, &v.genre[g]);
    }
    for (l, count) in c.language.iter_mut().enumerate() {
        *count = bits::count_and(x, of(&v.language, l));
    }
    c.available_now = match r.me {
        None => total,
        Some(Me { peer, station, .. }) => {
            let mut now = open_at(t, n, r.now);
            if let (false, Some(s)) = (peer, station) {
                let mut own = of(&v.station, s as usize).to_vec();
                bits::and_not(&mut own, &t.mirrored);
                bits::or(&mut now, &own);
            }
            bits::count_and(x, &now)
        }
    };
    (total, c)
}

/// The page's keys and the one after it, in order: the first kept
/// programs by the sort, from the listing (see [`newest`]).
fn firsts<'t>(t: &Tables, x: &[u64], paging: &Paging<'_>) -> Vec<(Key<'t>, i64)> {
    let want = paging.offset.saturating_add(paging.limit).saturating_add(1);
    let mut out = Vec::new();
    match (paging.sort, &paging.in_title) {
        // Relevance: the programs whose title has the words, then the others.
        (Sort::Relevance, Some(title)) => {
            let title = title.bits();
            let mut tier = x.to_vec();
            bits::and(&mut tier, &title);
            newest(t, &tier, None, want, |l| Key::Tiered(0, l), &mut out);
            tier.copy_from_slice(x);
            bits::and_not(&mut tier, &title);
            newest(t, &tier, None, want - out.len(), |l| Key::Tiered(1, l), &mut out);
        }
        _ => {
            // Only newest's own cursor turns programs away; any other is an offset.
            let below = match paging.from {
                Some(&Position::AfterInt { key, seq }) => Some((key, seq)),
                _ => None,
            };
            newest(t, x, below, want, Key::Desc, &mut out);
        }
    }
    out
}

/// Appends the first `want` programs of `set` newest first (by listing,
/// then place), those before `below` excepted. It walks the listing down
/// while that takes fewer steps than ranking every program of the set:
/// about `want × places ÷ count` steps against `count`.
fn newest<'t>(
    t: &Tables,
    set: &[u64],
    below: Option<(i64, i64)>,
    want: usize,
    key: impl Fn(i64) -> Key<'t>,
    out: &mut Vec<(Key<'t>, i64)>,
) {
    let count = bits::count(set);
    if count == 0 || want == 0 {
        return;
    }
    let listed = |p: u32| t.hot.get(p as usize).copied().flatten().map(|h| h.listed_at);
    let goal = out.len() + want;
    if (want as u64).saturating_mul(t.listed.len() as u64) <= count.saturating_mul(count) {
        let end = below.map_or(t.listed.len(), |below| {
            t.listed
                .partition_point(|&p| (listed(p).unwrap_or(i64::MIN), i64::from(p)) < below)
        });
        for &p in t.listed[..end].iter().rev() {
            if let (true, Some(l)) = (bits::has(set, p as usize), listed(p)) {
                out.push((key(l), i64::from(p)));
                if out.len() == goal {
                    break;
                }
            }
        }
    } else {
        let mut best = Best::new(want);
        for at in bits::descending(set) {
            if let Some(Some(h)) = t.hot.get(at) {
                let seq = at as i64;
                if below.is_none_or(|(l, s)| (h.listed_at, seq) < (l, s)) {
                    best.offer((key(h.listed_at), seq));
                }
            }
        }
        out.extend(best.sorted());
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    use super::super::{visit, Filters};
    use super::*;
    use crate::catalog::index::{matched, Entry, Matched, NEVER_AIRED};
    use crate::catalog::to_micros;
    use crate::domain::{Genre, LanguageTag, OriginFilter, ProgramKind, StationId, Viewer};

    /// Four stations of this hub, then two peers (whose programs are the
    /// mirrored ones).
    const STATIONS: &[&str] = &["ha-giang", "cao-bang", "lang-son", "vtv", "cum-2", "cum-3"];
    const LANGUAGES: &[&str] = &["vi", "tyz", "nut", "hnj", "en"];

    fn pick<T: Copy>(rng: &mut StdRng, all: &[T], p: f64) -> Vec<T> {
        all.iter().copied().filter(|_| rng.gen_bool(p)).collect()
    }

    /// A program as the catalog could hold it, at instants around `now`.
    fn entry(rng: &mut StdRng, now: i64) -> Entry {
        let mirrored = rng.gen_bool(0.4);
        let station = if mirrored {
            rng.gen_range(4..6)
        } else {
            rng.gen_range(0..4)
        };
        let audience = if mirrored && rng.gen_bool(0.9) {
            Audience::All
        } else {
            Audience::ALL[rng.gen_range(0..Audience::ALL.len())]
        };
        let mut languages: Vec<u32> = (0..LANGUAGES.len() as u32).collect();
        languages.shuffle(rng);
        languages.truncate(rng.gen_range(0..=3));
        let at = |rng: &mut StdRng| now + rng.gen_range(-3_000_000..3_000_000);
        let (from, until) = match rng.gen_range(0..6) {
            0 => (Some(at(rng)), None),
            1 => (None, Some(at(rng))),
            2 => {
                let from = at(rng);
                (Some(from), Some(from + rng.gen_range(1..2_000_000)))
            }
            _ => (None, None),
        };
        Entry {
            status: ProgramStatus::ALL[rng.gen_range(0..3)],
            station,
            kind: ProgramKind::ALL[rng.gen_range(0..2)],
            genre: Genre::ALL[rng.gen_range(0..Genre::ALL.len())],
            languages: languages.into_boxed_slice(),
            audience,
            audience_stations: pick(rng, &[0, 1, 2, 3], 0.3).into_boxed_slice(),
            available_from: from,
            available_until: until,
            // Few distinct instants: ties are broken by place.
            listed_at: rng.gen_range(0..400),
            aired: NEVER_AIRED,
            duration: None,
            title_key: "".into(),
            has_video: false,
            codecs: Box::new([]),
            mirrored,
        }
    }

    fn ids(rng: &mut StdRng, t: &Tables, p: f64) -> Matched {
        matched((0..t.hot.len() as u32).filter(|_| rng.gen_bool(p)).collect())
    }

    /// A search of any kind the bits answer, by any viewer.
    fn query(rng: &mut StdRng, now: i64) -> (Viewer, Filters) {
        let station = |rng: &mut StdRng| {
            let all = [STATIONS, &["bac-kan"]].concat();
            StationId::parse(all[rng.gen_range(0..all.len())]).unwrap()
        };
        let viewer = match rng.gen_range(0..6) {
            0 => Viewer::Admin,
            1 => Viewer::Peer { id: station(rng) },
            _ => Viewer::Station {
                id: station(rng),
                national: rng.gen_bool(0.3),
            },
        };
        let mut f = Filters::default();
        if rng.gen_bool(0.3) {
            f.statuses = pick(rng, ProgramStatus::ALL, 0.5);
        }
        if rng.gen_bool(0.3) {
            f.available_at = DateTime::<Utc>::from_timestamp_micros(now + rng.gen_range(-3_000_000..3_000_000));
        }
        let filter = &mut f.filter;
        if rng.gen_bool(0.2) {
            filter.stations = (0..rng.gen_range(0..3)).map(|_| station(rng)).collect();
        }
        if rng.gen_bool(0.2) {
            filter.kinds = pick(rng, ProgramKind::ALL, 0.5);
        }
        if rng.gen_bool(0.3) {
            filter.genres = pick(rng, Genre::ALL, 0.3);
        }
        if rng.gen_bool(0.2) {
            let all = [LANGUAGES, &["zh"]].concat();
            filter.languages = pick(rng, &all, 0.3)
                .into_iter()
                .map(|l| LanguageTag::parse(l).unwrap())
                .collect();
        }
        filter.origin = match rng.gen_range(0..6) {
            0 => Some(OriginFilter::Local),
            1 => Some(OriginFilter::Peer(StationId::parse("cum-3").unwrap())),
            2 => Some(OriginFilter::Peer(StationId::parse("cum-9").unwrap())),
            _ => None,
        };
        (viewer, f)
    }

    #[test]
    fn the_open_set_kept_follows_the_windows_written_after_it() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut t = Tables::default();
        t.stations.id("ha-giang").unwrap();
        let window = |from, until| Entry {
            station: 0,
            available_from: Some(from),
            available_until: Some(until),
            ..entry(&mut StdRng::seed_from_u64(2), 0)
        };
        let open = |t: &Tables, at: i64, seq: usize| bits::has(&t.values.open_at(&t.hot, at), seq);
        t.set(1, Some(window(100, 1000))).unwrap();
        t.set(3, Some(entry(&mut rng, 0))).unwrap();
        assert!(!open(&t, 50, 1), "not open yet");
        // Kept from 50, good until 100; a window written now opens at 60.
        t.set(2, Some(window(60, 80))).unwrap();
        assert!(open(&t, 70, 2), "opened at 60, after the set was kept");
        assert!(!open(&t, 70, 1));
        assert!(!open(&t, 90, 2), "closed at 80");
        t.set(2, Some(window(10, 20))).unwrap();
        assert!(!open(&t, 95, 2), "rewritten: closed long ago");
        t.set(1, None).unwrap();
        assert!(!open(&t, 150, 1), "gone");
        t.set(1, Some(window(100, 1000))).unwrap();
        assert!(open(&t, 150, 1));
    }

    #[test]
    fn the_bits_answer_as_the_pass_does() {
        let mut rng = StdRng::seed_from_u64(26);
        let now = to_micros(Utc::now());
        let mut t = Tables::default();
        for s in STATIONS {
            t.stations.id(s).unwrap();
        }
        for l in LANGUAGES {
            t.languages.id(l).unwrap();
        }
        let (mut searches, mut pages) = (0, 0);
        let mut clock = now - 3_000_000;
        for round in 0..40 {
            // Writes: new places, and old ones replaced or emptied.
            let places = t.hot.len();
            for _ in 0..if round == 0 { 3000 } else { 60 } {
                let seq = if places < 2 || rng.gen_bool(0.5) {
                    places.max(1) + rng.gen_range(0..40)
                } else {
                    rng.gen_range(1..places)
                };
                let e = rng.gen_bool(0.9).then(|| entry(&mut rng, now));
                t.set(seq as i64, e).unwrap();
            }
            let mut listed: Vec<u32> = (0..t.hot.len() as u32)
                .filter(|&i| t.hot[i as usize].is_some())
                .collect();
            listed.sort_by_key(|&i| (t.hot[i as usize].map(|h| h.listed_at), i));
            assert_eq!(t.listed, listed, "the listing, kept by every write");
            for _ in 0..25 {
                let (viewer, f) = query(&mut rng, now);
                let density = rng.gen_range(0.01..0.9);
                let matches = rng.gen_bool(0.7).then(|| ids(&mut rng, &t, density));
                let sort = if rng.gen_bool(0.5) {
                    Sort::Relevance
                } else {
                    Sort::Newest
                };
                let in_title = match (&matches, sort) {
                    (Some(m), Sort::Relevance) => {
                        Some(matched(m.iter().copied().filter(|_| rng.gen_bool(0.2)).collect()))
                    }
                    _ => None,
                };
                let limit = rng.gen_range(1..30);
                let mut from: Option<Position> = None;
                // Page on, following each answer's cursor.
                for _ in 0..4 {
                    let paging = || Paging {
                        sort,
                        in_title: in_title.clone(),
                        title_at: std::cell::Cell::new(usize::MAX),
                        from: from.as_ref(),
                        offset: match &from {
                            Some(Position::Offset { n }) => *n as usize,
                            _ => 0,
                        },
                        limit,
                    };
                    let mut r = Resolved::new(&t, &viewer, &f);
                    // A clock that moves through the windows, so that the
                    // open set kept between searches has to follow it.
                    clock += rng.gen_range(0..6_000);
                    if f.available_at.is_none() {
                        r.now = clock;
                    }
                    let want = visit(&t, &r, matches.as_deref().map(|m| &**m), &paging());
                    let got = answer(&t, &r, matches.as_deref(), &paging()).expect("answered by bits");
                    assert_eq!(got, want, "round {round}: {viewer:?} {f:?} {sort:?} from {from:?}");
                    searches += 1;
                    pages += usize::from(!want.2.is_empty());
                    let Some(next) = want.3 else { break };
                    from = Some(next);
                }
            }
        }
        // The comparison saw real pages, not only empty answers.
        assert!(pages > searches / 2, "{pages} pages in {searches} searches");
    }
}
