//! Upgrades of a catalog made by an older hub: every row of every table is
//! still there after the newest migrations, a copy of the old catalog is
//! taken first, and a migration that fails leaves the catalog as it was.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::Connection;

use super::*;

/// Rows for the tables (and columns) that migration `n` (1-based) adds,
/// inserted right after it: a catalog at version `k` has data in every
/// table and every column it has.
fn fixtures(n: usize) -> &'static str {
    match n {
        1 => {
            "INSERT INTO stations VALUES ('thai-nguyen', 'Đài Thái Nguyên', 'Thái Nguyên', 'provincial', 1);
             INSERT INTO stations VALUES ('vtv', 'VTV', 'Hà Nội', 'national', 2);
             INSERT INTO tokens VALUES ('tok1', 'thai-nguyen', 'station', 'playout', X'0102', 3, NULL);
             INSERT INTO tokens VALUES ('tok2', NULL, 'admin', 'ops', X'0304', 4, 5);
             INSERT INTO programs VALUES (1, 'prg1', 'thai-nguyen', 'published', 'Phóng sự Mẫu Sơn', 'phong su mau son',
                 'tóm tắt', 'mô tả', '[\"núi\"]', 'documentary', 'report', 'Núi', 3, 6, 1800,
                 '[{\"role\":\"director\",\"name\":\"Hoa\"}]', 'stations', 7, 8, 1, 'terms', 9, 10, 11, NULL, NULL, 11, 2);
             INSERT INTO programs VALUES (2, 'prg2', 'thai-nguyen', 'withdrawn', 'Tin', 'tin', NULL, NULL, '[]', 'news',
                 'news', NULL, NULL, NULL, NULL, '[]', 'cluster', NULL, NULL, 0, NULL, 12, 13, 14, 15, 'error', 14, 3);
             INSERT INTO program_languages VALUES ('vi', 1, 0), ('tay', 1, 1);
             INSERT INTO program_audience VALUES (1, 'vtv');
             INSERT INTO program_files VALUES (1, 'master', 'mau-son.mxf', 'application/mxf', 1000, 'aa', 16);
             INSERT INTO program_files VALUES (2, 'master', 'tin.wav', 'audio/wav', 20, 'bb', 17);
             INSERT INTO program_fts (rowid, title, summary, description, tags, series, credits)
                 VALUES (1, 'phong su mau son', 'tom tat', 'mo ta', 'nui', 'nui', 'hoa');
             INSERT INTO hub_settings VALUES ('cursor_key', X'00FF');"
        }
        2 => {
            "INSERT INTO media_objects VALUES ('aa', 'objects/aa', 1000, 18);
             INSERT INTO media_uploads VALUES ('uploads/x', 19);"
        }
        3 => {
            "INSERT INTO takes VALUES ('vtv', 1, 'master', 'aa', 1000, 20);
             INSERT INTO download_ranges VALUES ('vtv', 1, 'master', 'aa', 0, 500);
             INSERT INTO rebroadcasts VALUES ('rb1', 'vtv', 1, 21, 'VTV1', 'thời sự', 22);"
        }
        4 => {
            "INSERT INTO media_uploads VALUES ('uploads/y', 23, 'mp-1');
             INSERT INTO tus_uploads VALUES ('tus1', 'thai-nguyen', 'prg1', 'master', 'a.wav', 'audio/wav',
                 'filename YS53YXY=', 100, 50, '{\"key\":\"uploads/z\"}', X'AB', 24, 25, NULL);"
        }
        5 => {
            "INSERT INTO events (seq, type, program_seq, at) VALUES (1, 'program.published', 1, 26), (2, 'program.withdrawn', 2, 27);
             INSERT INTO webhooks VALUES ('wh1', 'vtv', 'https://127.0.0.1/hook', '[\"program.published\"]', 's3cret', 28, NULL);
             INSERT INTO deliveries VALUES ('d1', 'wh1', 1, 'delivered', 1, 29, 200, NULL, 30, 31);"
        }
        6 => "INSERT INTO webhooks VALUES ('wh2', 'vtv', 'https://127.0.0.1/h2', '[]', 's', 32, NULL, 'tok1');",
        7 => {
            "INSERT INTO people VALUES ('p1', 'hoa', 'Nguyễn Thị Hoa', 'thai-nguyen', 'editor', '$argon2id$x', 'vi', 33, 34);
             INSERT INTO people VALUES ('p2', 'admin', 'Admin', NULL, 'operator', '$argon2id$y', NULL, 35, 36);
             INSERT INTO sessions VALUES (X'CAFE', 'p1', 37, 38);
             INSERT INTO sign_in_failures VALUES ('hoa', 2, 39, NULL);
             INSERT INTO program_actions VALUES (1, 'p1', 'published', NULL, 40);"
        }
        8 => {
            "INSERT INTO analysis_jobs VALUES ('cc', 'analyze', 'done', 1, 41, NULL, NULL, '{}', 'pv/cc', 'audio/ogg',
                 'dd', 'po/cc', 'ee', 'wf/cc', 'ff', 42, 43);
             INSERT INTO events (type, program_seq, at) VALUES ('file.analyzed', 1, 44);"
        }
        9 => "INSERT INTO follows VALUES ('f1', 'vtv', 'series', 'Núi', 'nui', 1, '[\"master\"]', 0, 45);",
        10 => {
            "INSERT INTO people VALUES ('p3', 'lan', 'Hà Thị Lan', 'thai-nguyen', 'editor', '$argon2id$z', NULL, 46, 47, 48, NULL, 1);
             INSERT INTO people VALUES ('p4', 'removed.p4', 'Cũ', 'thai-nguyen', 'viewer', '$argon2id$w', NULL, 49, 50, 51, 52, 0);"
        }
        // 0011_renditions.
        11 => {
            "INSERT INTO profiles VALUES ('bwf-r128', 'BWF R128', '{\"id\":\"bwf-r128\"}', 46);
             UPDATE follows SET profile = 'bwf-r128', cut_id = '4501' WHERE id = 'f1';
             UPDATE stations SET default_profile = 'bwf-r128' WHERE id = 'vtv';
             INSERT INTO renditions VALUES ('cc', 'bwf-r128', 'done', 1, 47, NULL, NULL, 'previews/cc/rendition-ab',
                 'audio/wav', 1000, X'00', '{}', 48, 49);"
        }
        // 0012_push.
        12 => {
            "INSERT INTO push_targets VALUES ('t1', 'vtv', 'sftp', 'sftp://127.0.0.1:2222', 'vtv', 'pw', 'in', 'bwf-mp2-r128',
                 'SHA256:abc', 46, NULL);
             UPDATE follows SET target_id = 't1' WHERE id = 'f1';
             INSERT INTO push_deliveries VALUES ('pd1', 'vtv', 't1', 'prg1', 'master', 'aa', 1000, 'prg1-master.mxf',
                 'pending', 0, 0, NULL, 47, NULL, 48, 49, 0);"
        }
        // 0013_peers (numbered by its place in MIGRATIONS).
        13 => {
            "INSERT INTO stations (id, name, province, kind, created_at) VALUES ('cum-3', 'Cụm 3', '', 'peer', 46);
             INSERT INTO tokens VALUES ('tok3', 'cum-3', 'peer', 'cụm 3', X'0506', 47, NULL);
             INSERT INTO peers VALUES ('cum-3', 'Cụm 3 — Tây Bắc', 'http://127.0.0.1:9/', 'pxh_x', 'e1', 'down', 48);
             INSERT INTO programs (seq, id, station_id, status, title, title_key, tags, kind, genre, credits,
                 audience, credit_required, created_at, updated_at, listed_at, version,
                 origin_peer, origin_station, origin_station_name, origin_program_id)
             VALUES (3, 'prg3', 'cum-3', 'published', 'Xòe', 'xoe', '[]', 'radio', 'culture', '[]',
                 'all', 1, 49, 50, 51, 1, 'cum-3', 'son-la', 'Đài Sơn La', 'remote-1');
             INSERT INTO peer_outbox VALUES ('k1', 'cum-3', 'remote-1', 'take', '{}', 52, 1, 'down', NULL);
             INSERT INTO peer_uses VALUES ('cum-3', 'k2', 1, 'rebroadcast', 'son-la', 'Đài Sơn La', NULL, 53, 'VTV1', 54);
             INSERT INTO unshared VALUES (2, 55);"
        }
        // 0014_push_renditions.
        14 => {
            "UPDATE push_targets SET template = '{cut_id}.{ext}' WHERE id = 't1';
             INSERT INTO push_deliveries VALUES ('pd2', 'vtv', 't1', 'prg1', 'master', 'bb', 2000, '4501.wav',
                 'pending', 0, 0, NULL, 56, NULL, 57, 58, 0, 'aa', 'bwf-r128', '{}');"
        }
        // 0015_last_visit.
        15 => {
            "UPDATE people SET seen_at = 56, previous_visit_at = 55 WHERE id = 'p1';
             INSERT INTO download_lists VALUES ('p1', 1, 57);"
        }
        // 0016_peer_waits.
        16 => {
            "UPDATE peers SET polled_at = 56, wake_secret = 'w', wake_hook = 'wh9', eager = 'all', eager_max_bytes = 1000
              WHERE id = 'cum-3';
             INSERT INTO peer_waits VALUES ('aa', 'cum-3', 57);"
        }
        // 0017_list_follows.
        17 => {
            "INSERT INTO follows VALUES ('f2', 'thai-nguyen', 'list', 'hoa', 'hoa', 1, '[\"master\"]', 0, 58, NULL, '4502',
                 NULL);"
        }
        _ => panic!("no fixtures for migration {n}: add rows for the tables and columns it brings"),
    }
}

/// A catalog at version `k`, made by the first `k` migrations with their
/// fixtures inserted after each, as a hub of that version would have left it.
fn catalog_at(path: &Path, k: usize) {
    let mut conn = open_connection(path, false).unwrap();
    for n in 1..=k {
        migrate_with(&mut conn, path, &MIGRATIONS[..n]).unwrap();
        conn.execute_batch(fixtures(n)).unwrap();
    }
    for leftover in backups(path) {
        std::fs::remove_file(leftover).unwrap();
    }
}

/// The copies taken beside `catalog`.
fn backups(catalog: &Path) -> Vec<PathBuf> {
    let prefix = format!("{}.v", catalog.file_name().unwrap().to_str().unwrap());
    let mut found: Vec<PathBuf> = std::fs::read_dir(catalog.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with(&prefix) && name.ends_with(".bak")
        })
        .collect();
    found.sort();
    found
}

/// Every row of every table (the full-text index aside), each as the text
/// of its columns: table → its columns → its sorted rows.
type Snapshot = BTreeMap<String, (Vec<String>, Vec<String>)>;

fn snapshot(conn: &Connection) -> Snapshot {
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'program_fts%'",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables
        .into_iter()
        .map(|t| {
            let columns: Vec<String> = conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let rows = rows_of(conn, &t, &columns);
            (t, (columns, rows))
        })
        .collect()
}

fn rows_of(conn: &Connection, table: &str, columns: &[String]) -> Vec<String> {
    let quoted: Vec<String> = columns.iter().map(|c| format!("quote(\"{c}\")")).collect();
    let mut rows: Vec<String> = conn
        .prepare(&format!("SELECT {} FROM \"{table}\"", quoted.join(" || ',' || ")))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.sort();
    rows
}

fn user_version(conn: &Connection) -> usize {
    conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap()
}

fn fts_hits(conn: &Connection) -> i64 {
    conn.query_row(
        "SELECT count(*) FROM program_fts WHERE program_fts MATCH '\"mau\" AND \"son\"'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn an_upgrade_from_any_older_catalog_loses_nothing_and_keeps_a_copy() {
    for k in 1..MIGRATIONS.len() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        catalog_at(&path, k);
        let before = {
            let conn = open_connection(&path, false).unwrap();
            assert_eq!(user_version(&conn), k);
            snapshot(&conn)
        };
        for (table, (_, rows)) in &before {
            assert!(!rows.is_empty(), "catalog v{k}: table {table} has no fixture rows");
        }

        // The hub's own way in.
        let catalog = Catalog::open(&path).unwrap();
        drop(catalog);

        let conn = open_connection(&path, false).unwrap();
        assert_eq!(user_version(&conn), MIGRATIONS.len());
        for (table, (columns, rows)) in &before {
            assert_eq!(
                &rows_of(&conn, table, columns),
                rows,
                "upgrading v{k}: rows of {table} changed"
            );
        }
        assert_eq!(fts_hits(&conn), 1, "upgrading v{k}: the search index lost its entry");

        // The copy: the old catalog, whole, at its old version.
        let copies = backups(&path);
        assert_eq!(copies.len(), 1, "upgrading v{k}: {copies:?}");
        let copy = Connection::open(&copies[0]).unwrap();
        assert_eq!(user_version(&copy), k);
        assert_eq!(snapshot(&copy), before, "upgrading v{k}: the copy differs");
        assert_eq!(fts_hits(&copy), 1);
    }
}

#[test]
fn a_new_or_current_catalog_is_not_copied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    drop(Catalog::open(&path).unwrap());
    drop(Catalog::open(&path).unwrap());
    assert_eq!(backups(&path), Vec::<PathBuf>::new());
}

#[test]
fn a_failing_migration_leaves_the_catalog_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.db");
    catalog_at(&path, 1);
    let before = snapshot(&open_connection(&path, false).unwrap());

    // Every migration of today, then one that fails half-way.
    let mut broken: Vec<&str> = MIGRATIONS.to_vec();
    broken.push("CREATE TABLE half (x INTEGER); INSERT INTO no_such_table VALUES (1);");
    let mut conn = open_connection(&path, false).unwrap();
    let err = migrate_with(&mut conn, &path, &broken).unwrap_err().to_string();
    let copies = backups(&path);
    assert_eq!(copies.len(), 1);
    assert!(
        err.contains(&format!("catalog migration {} failed", broken.len())),
        "{err}"
    );
    assert!(err.contains("no_such_table"), "{err}");
    assert!(err.contains("left as it was"), "{err}");
    assert!(err.contains(&copies[0].display().to_string()), "{err}");
    drop(conn);

    // Not even the migrations before the failing one stayed.
    let conn = open_connection(&path, false).unwrap();
    assert_eq!(user_version(&conn), 1);
    assert_eq!(snapshot(&conn), before);
    let foreign_keys: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
    assert!(foreign_keys);
    drop(conn);

    // The old hub still opens it as it always did; today's upgrades it.
    let mut old = open_connection(&path, false).unwrap();
    assert_eq!(migrate_with(&mut old, &path, &MIGRATIONS[..1]).unwrap(), None);
    drop(old);
    drop(Catalog::open(&path).unwrap());
    assert_eq!(user_version(&open_connection(&path, false).unwrap()), MIGRATIONS.len());
}
