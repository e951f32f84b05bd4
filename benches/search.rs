//! Search benchmark: catalog search with facets at 100k and 1M programs.
//!
//! ```text
//! cargo bench --bench search -- [--sizes 100000,1000000] [--queries 200] [--fresh] [--mirrored M]
//!     [--only WORDS]
//! ```
//!
//! Generates a catalog of realistic Vietnamese program metadata (cached under
//! `target/bench-catalog-<N>-…` and reused while the generator and the schema
//! are unchanged; `--fresh` builds a throw-away one in a temporary directory),
//! then times `Hub::search` for a few query shapes (each asked again and
//! again, so the hub's kept match sets answer after the first; one shape
//! names a different word each time, so none is kept) against a baseline measured
//! in the same run: `Hub::program` (one program by id through the same
//! use-case layer). Prints a Markdown table on stdout; progress goes to
//! stderr.
//!
//! With `--mirrored M` it measures instead a hub that follows a peer: the
//! same catalog of N plus M programs mirrored from a peer hub (stored as the
//! peer worker stores them; cached too), against the catalog of N alone, in
//! the same run, in alternating blocks, each hub with its own baseline; each
//! query also with `origin=local` (a station searching its own cluster only).
//! `--only WORDS` measures only the queries whose row (name and what it
//! asks, as the table shows it) has those words, to profile one, e.g.
//! `--only '(q=`tinh`)'` under `perf record`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::catalog::catalog;
use pxhub::catalog::Catalog;
use pxhub::config::Settings;
use pxhub::domain::{Genre, OriginFilter, ProgramId, ProgramKind, Role, StationId, StationKind};
use pxhub::exchange::{Caller, Hub, SearchRequest};
use pxhub::media::MediaStore;

/// Page size of every measured search.
const LIMIT: usize = 20;

// ---------------------------------------------------------------------------
// Measurement

struct Stats {
    p50: f64,
    p95: f64,
    p99: f64,
}

fn stats(samples: &[Duration]) -> Stats {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    Stats {
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
    }
}

struct Query {
    name: &'static str,
    shows: String,
    request: SearchRequest,
    /// When not empty: each call asks for the next of these words instead,
    /// round and round (no word comes back before 199 others).
    cycle: Vec<String>,
    /// The next word, for each hub measured (`--mirrored`: alone, mixed).
    next: [std::cell::Cell<usize>; 2],
    /// A program's text is edited before each search (not timed), as on a
    /// hub where stations upload and edit all day.
    write_between: bool,
}

/// More words than the hub keeps match sets for (64), so each is read
/// from the full-text index every time.
const CYCLED_WORDS: usize = 200;

fn queries() -> Vec<Query> {
    let q = |name, text: &str| Query {
        name,
        shows: format!("q=`{text}`"),
        request: SearchRequest {
            q: Some(text.into()),
            limit: LIMIT,
            ..Default::default()
        },
        cycle: Vec::new(),
        next: Default::default(),
        write_between: false,
    };
    let cycle: Vec<String> = common::catalog::common_words(CYCLED_WORDS)
        .iter()
        .map(|w| (*w).to_owned())
        .collect();
    vec![
        q("common word", "tỉnh"),
        q("common word, no diacritics", "tinh"),
        q("rare word", "khuổi"),
        q("prefix", "phon"),
        Query {
            name: "a different common word each time, its match not kept (extra)",
            shows: format!("the {} commonest words in turn", cycle.len()),
            request: SearchRequest {
                limit: LIMIT,
                ..Default::default()
            },
            cycle,
            next: Default::default(),
            write_between: false,
        },
        Query {
            write_between: true,
            ..q("common word, a program edited before each search (extra)", "tỉnh")
        },
        Query {
            name: "filter only",
            shows: "genre=documentary, kind=tv".into(),
            request: SearchRequest {
                filter: pxhub::domain::SearchFilter {
                    genres: vec![Genre::Documentary],
                    kinds: vec![ProgramKind::Tv],
                    ..Default::default()
                },
                limit: LIMIT,
                ..Default::default()
            },
            cycle: Vec::new(),
            next: Default::default(),
            write_between: false,
        },
        Query {
            name: "browse, no query or filter (extra)",
            shows: "nothing".into(),
            request: SearchRequest {
                limit: LIMIT,
                ..Default::default()
            },
            cycle: Vec::new(),
            next: Default::default(),
            write_between: false,
        },
    ]
}

impl Query {
    /// The request of the next call on hub `side`.
    fn request(&self, side: usize) -> SearchRequest {
        let mut r = self.request.clone();
        if !self.cycle.is_empty() {
            let i = self.next[side].get();
            self.next[side].set((i + 1) % self.cycle.len());
            r.q = Some(self.cycle[i].clone());
        }
        r
    }

    /// The same query, only this hub's own programs (`origin=local`).
    fn local_only(mut self) -> Self {
        self.name = match self.name {
            "common word" => "common word, origin=local",
            "common word, no diacritics" => "common word, no diacritics, origin=local",
            "rare word" => "rare word, origin=local",
            "prefix" => "prefix, origin=local",
            "filter only" => "filter only, origin=local",
            "browse, no query or filter (extra)" => "browse, origin=local (extra)",
            "common word, a program edited before each search (extra)" => {
                "common word, origin=local, a program edited before each search (extra)"
            }
            _ => "a different common word each time, origin=local (extra)",
        };
        self.shows.push_str(", origin=local");
        self.request.filter.origin = Some(OriginFilter::Local);
        self
    }
}

struct Row {
    n: usize,
    name: String,
    shows: String,
    matches: Option<u64>,
    stats: Stats,
}

/// `count` calls of `f`, after a few unmeasured ones.
fn time<F, Fut>(rt: &tokio::runtime::Runtime, count: usize, f: F) -> Vec<Duration>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    time_after(rt, count, |_| {}, f)
}

/// [`time`], with `before` run (untimed) before each call.
fn time_after<F, Fut>(
    rt: &tokio::runtime::Runtime,
    count: usize,
    mut before: impl FnMut(usize),
    mut f: F,
) -> Vec<Duration>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for i in 0..(count / 10).max(3) {
        before(i);
        rt.block_on(f(i));
    }
    (0..count)
        .map(|i| {
            before(i);
            let t = Instant::now();
            rt.block_on(f(i));
            t.elapsed()
        })
        .collect()
}

/// A hub over a catalog, and programs the caller may see in it.
struct Side {
    hub: Hub,
    /// This hub's own programs (audience `cluster`), spread over the first
    /// `n`, for the baseline: the same ids in a catalog and its mixed copy.
    ids: Vec<ProgramId>,
}

impl Side {
    fn open(catalog: Catalog, db: &Path, n: usize) -> Self {
        let size = std::fs::metadata(db).map(|m| m.len()).unwrap_or(0);
        eprintln!("{}: {:.0} MiB", db.display(), size as f64 / (1 << 20) as f64);
        let settings = Settings {
            data_dir: db.parent().expect("data dir").to_owned(),
            ..Settings::default()
        };
        let media = MediaStore::open(&settings.media()).expect("media store");
        let hub = Hub::new(catalog, media, settings.exchange().expect("settings")).expect("hub");
        let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
        let step = (n / 2_000).max(1) as i64;
        let mut stmt = conn
            .prepare(
                "SELECT id FROM programs WHERE seq % ?1 = 0 AND seq <= ?2 AND status = 'published'
                 AND audience = 'cluster'",
            )
            .expect("prepare");
        let ids: Vec<ProgramId> = stmt
            .query_map([step, n as i64], |r| r.get::<_, String>(0))
            .expect("ids")
            .map(|id| ProgramId::parse(&id.expect("id")).expect("program id"))
            .collect();
        assert!(!ids.is_empty());
        Self { hub, ids }
    }

    /// `count` timed calls of the baseline, from the `offset`th id.
    fn baseline(&self, rt: &tokio::runtime::Runtime, caller: &Caller, count: usize, offset: usize) -> Vec<Duration> {
        time(rt, count, |i| {
            let id = self.ids[(offset + i * 7) % self.ids.len()];
            let hub = &self.hub;
            async move {
                hub.program(caller, id).await.expect("program");
            }
        })
    }

    /// The mean total of `query` over one round of its words (one call
    /// when it has none), and its first page's length.
    fn matches(&self, rt: &tokio::runtime::Runtime, caller: &Caller, query: &Query, side: usize) -> (u64, usize) {
        let calls = if query.cycle.is_empty() { 1 } else { query.cycle.len() };
        let mut matches = 0;
        let mut first = None;
        for _ in 0..calls {
            let p = rt
                .block_on(self.hub.search(caller, query.request(side)))
                .expect("search");
            matches += p.total;
            first.get_or_insert(p.items.len());
        }
        (matches / calls as u64, first.unwrap_or(0))
    }

    /// `count` timed searches of `query`, each checked to find `matches`
    /// when its words are fixed (give or take the program it edits).
    fn search(
        &self,
        rt: &tokio::runtime::Runtime,
        caller: &Caller,
        query: &Query,
        side: usize,
        matches: u64,
        count: usize,
    ) -> Vec<Duration> {
        // The caller's own draft, its title in and out of the common word's
        // matches by turns; deleted afterwards (the cached catalog keeps
        // what it held).
        let draft = query.write_between.then(|| {
            let input = pxhub::exchange::programs::from_json(serde_json::json!({
                "title": "Bản nháp", "kind": "radio", "genre": "news", "languages": ["vi"]
            }))
            .expect("input");
            rt.block_on(self.hub.create_program(caller, input)).expect("draft").id
        });
        let edit = |i: usize| {
            if let Some(id) = draft {
                let title = if i.is_multiple_of(2) {
                    format!("Tỉnh nhà {i}")
                } else {
                    format!("Bản nháp {i}")
                };
                let patch = serde_json::json!({ "title": title });
                rt.block_on(self.hub.patch_program(caller, id, patch, Default::default()))
                    .expect("edit");
            }
        };
        let samples = time_after(rt, count, edit, |_| {
            let req = query.request(side);
            let hub = &self.hub;
            let fixed = query.cycle.is_empty() && draft.is_none();
            async move {
                let page = hub.search(caller, req).await.expect("search");
                assert!(!fixed || page.total == matches);
            }
        });
        if let Some(id) = draft {
            rt.block_on(self.hub.delete_program(caller, id, Default::default()))
                .expect("delete the draft");
        }
        samples
    }
}

fn station_caller() -> Caller {
    Caller {
        token_id: "bench".into(),
        role: Role::Station,
        station: Some(StationId::parse("cao-bang").unwrap()),
        station_kind: Some(StationKind::Provincial),
        person: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn run(n: usize, count: usize, fresh: bool, only: &str, rows: &mut Vec<Row>) {
    let (catalog, db, _tmp) = catalog(n, fresh);
    let side = Side::open(catalog, &db, n);
    let caller = station_caller();
    let rt = runtime();
    let baseline = |rt: &tokio::runtime::Runtime, offset: usize| side.baseline(rt, &caller, count, offset);

    // The baseline is sampled between every query, so drift on a noisy
    // machine touches both alike.
    let mut base_samples = baseline(&rt, 0);
    let mut measured = Vec::new();
    let queries = queries()
        .into_iter()
        .filter(|q| format!("{} ({})", q.name, q.shows).contains(only));
    for (k, query) in queries.enumerate() {
        // With words in turn: the mean match of the words.
        let (matches, first) = side.matches(&rt, &caller, &query, 0);
        eprintln!(
            "  {n} {}: {matches} matches ({:.2}% of the catalog), first page {first} items",
            query.name,
            matches as f64 * 100.0 / n as f64,
        );
        let samples = side.search(&rt, &caller, &query, 0, matches, count);
        base_samples.extend(baseline(&rt, (k + 1) * 131));
        measured.push((query, matches, stats(&samples)));
    }
    rows.push(Row {
        n,
        name: "baseline: `Hub::program` by id".into(),
        shows: "one visible program".into(),
        matches: None,
        stats: stats(&base_samples),
    });
    for (query, matches, stats) in measured {
        rows.push(Row {
            n,
            name: query.name.into(),
            shows: query.shows,
            matches: Some(matches),
            stats,
        });
    }
}

/// A query measured on the catalog alone ([0]) and mixed ([1]).
struct PairRow {
    name: String,
    shows: String,
    matches: [u64; 2],
    stats: [Stats; 2],
}

/// Blocks per query and hub: the hubs take turns, the first one
/// alternating, so that drift on a noisy machine touches both alike.
const ROUNDS: usize = 5;

/// Issue 26's goal: the mixed catalog's p95 at most this times the catalog
/// alone's.
const MIXED_GOAL: f64 = 1.2;

/// The catalog of `n` alone against the same with `m` mirrored programs.
fn run_mixed(n: usize, m: usize, count: usize, fresh: bool, only: &str) -> (Vec<PairRow>, [Stats; 2]) {
    let (alone, alone_db, _t1) = catalog(n, fresh);
    let (mixed, mixed_db, _t2) = common::catalog::mixed(n, m, &alone_db, fresh);
    let sides = [Side::open(alone, &alone_db, n), Side::open(mixed, &mixed_db, n)];
    assert_eq!(sides[0].ids, sides[1].ids, "the baselines read the same programs");
    let caller = station_caller();
    let rt = runtime();
    let per = (count / ROUNDS).max(1);
    let mut base: [Vec<Duration>; 2] = Default::default();
    let mut rows = Vec::new();
    let all: Vec<Query> = queries()
        .into_iter()
        .chain(queries().into_iter().map(Query::local_only))
        .filter(|q| format!("{} ({})", q.name, q.shows).contains(only))
        .collect();
    for (k, query) in all.into_iter().enumerate() {
        let found = [0, 1].map(|s| sides[s].matches(&rt, &caller, &query, s));
        let matches = found.map(|f| f.0);
        eprintln!(
            "  {n} + {m} {}: {} matches alone, {} mixed; first pages {} and {} items",
            query.name, matches[0], matches[1], found[0].1, found[1].1
        );
        if query.request.filter.origin.is_some() {
            assert_eq!(matches[0], matches[1], "origin=local finds the same in both");
        }
        let mut samples: [Vec<Duration>; 2] = Default::default();
        for round in 0..ROUNDS {
            let order = if (k + round) % 2 == 0 { [0, 1] } else { [1, 0] };
            for s in order {
                let side = &sides[s];
                samples[s].extend(side.search(&rt, &caller, &query, s, matches[s], per));
                base[s].extend(side.baseline(&rt, &caller, per, (k * ROUNDS + round) * 131));
            }
        }
        rows.push(PairRow {
            name: query.name.into(),
            shows: query.shows,
            matches,
            stats: samples.map(|s| stats(&s)),
        });
    }
    (rows, base.map(|b| stats(&b)))
}

fn print_mixed(n: usize, m: usize, rows: &[PairRow], base: &[Stats; 2]) {
    println!();
    println!(
        "| query | matches, {n} alone | matches, {n} + {m} mirrored | alone p50 ms | alone p95 ms (÷ base) | mixed p50 ms | mixed p95 ms (÷ base) | mixed ÷ alone p50 | mixed ÷ alone p95 | goal p95 | result |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let [a, x] = base;
    println!(
        "| baseline: `Hub::program` by id (one visible program of this hub) | – | – | {:.3} | {:.3} (1×) | {:.3} | {:.3} (1×) | {:.2} | {:.2} | – | – |",
        a.p50,
        a.p95,
        x.p50,
        x.p95,
        x.p50 / a.p50,
        x.p95 / a.p95
    );
    for r in rows {
        let [s0, s1] = &r.stats;
        let ratio = s1.p95 / s0.p95;
        println!(
            "| {} ({}) | {} | {} | {:.2} | {:.2} ({:.0}×) | {:.2} | {:.2} ({:.0}×) | {:.2} | {:.2} | ≤ {MIXED_GOAL} | {} |",
            r.name,
            r.shows,
            r.matches[0],
            r.matches[1],
            s0.p50,
            s0.p95,
            s0.p95 / a.p95,
            s1.p50,
            s1.p95,
            s1.p95 / x.p95,
            s1.p50 / s0.p50,
            ratio,
            if ratio <= MIXED_GOAL { "PASS" } else { "MISS" }
        );
    }
}

/// Issue 27's targets: p95 under 5 ms at 100k programs, under 20 ms at 1M.
fn target_ms(n: usize) -> f64 {
    if n <= 100_000 {
        5.0
    } else {
        20.0
    }
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| N | query | matches | p50 ms | p95 ms | p99 ms | p50 ÷ base p50 | p95 ÷ base p95 | target p95 | result |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut base = None;
    for r in rows {
        let s = &r.stats;
        if r.matches.is_none() {
            base = Some((s.p50, s.p95));
            println!(
                "| {} | {} ({}) | – | {:.3} | {:.3} | {:.3} | 1 | 1 | – | – |",
                r.n, r.name, r.shows, s.p50, s.p95, s.p99
            );
            continue;
        }
        let (b50, b95) = base.expect("baseline first");
        let target = target_ms(r.n);
        println!(
            "| {} | {} ({}) | {} ({:.2}%) | {:.2} | {:.2} | {:.2} | {:.0}× | {:.0}× | < {target:.0} ms | {} |",
            r.n,
            r.name,
            r.shows,
            r.matches.unwrap(),
            r.matches.unwrap() as f64 * 100.0 / r.n as f64,
            s.p50,
            s.p95,
            s.p99,
            s.p50 / b50,
            s.p95 / b95,
            if s.p95 < target { "PASS" } else { "MISS" }
        );
    }
}

fn main() {
    let mut sizes = vec![100_000, 1_000_000];
    let mut count = 200;
    let mut fresh = false;
    let mut mirrored = None;
    let mut only = String::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sizes" => {
                sizes = args
                    .next()
                    .expect("--sizes N,N")
                    .split(',')
                    .map(|s| s.trim().replace('_', "").parse().expect("a size"))
                    .collect()
            }
            "--queries" => count = args.next().expect("--queries N").parse().expect("N"),
            "--fresh" => fresh = true,
            "--only" => only = args.next().expect("--only WORDS"),
            "--mirrored" => {
                let m: usize = args.next().expect("--mirrored M").replace('_', "").parse().expect("M");
                mirrored = Some(m).filter(|&m| m > 0);
            }
            // cargo bench passes --bench; ignore what is not ours.
            _ => {}
        }
    }
    if let Some(m) = mirrored {
        let per = (count / ROUNDS).max(1) * ROUNDS;
        let mut tables = Vec::new();
        for &n in &sizes {
            tables.push((n, run_mixed(n, m, per, fresh, &only)));
        }
        println!(
            "\nSearch on a hub with {m} programs mirrored from a peer against the same hub without them, {per} timed calls per query and hub in {ROUNDS} alternating blocks (page of {LIMIT}, with total and facets), caller: station cao-bang."
        );
        for (n, (rows, base)) in &tables {
            print_mixed(*n, m, rows, base);
        }
        return;
    }
    let mut rows = Vec::new();
    for &n in &sizes {
        run(n, count, fresh, &only, &mut rows);
    }
    println!(
        "\nSearch, {count} timed calls per query (page of {LIMIT}, with total and facets), caller: station cao-bang."
    );
    print_table(&rows);
}
