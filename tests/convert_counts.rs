//! `espy convert` over whole datasets accounts for every document: each Sysmon event 3 is a
//! conn row, each event 22 its DNS rows, or it is a counted reject in the rejects file; all
//! other documents are counted as skipped. The printed summary agrees with the tree written
//! and with a count made here from the JSON alone.

mod support;

use std::io::Write;

use serde_json::Value;
use support::convert::{convert, corpus_files, dns_events, non_empty_lines};
use support::zeek_logs::{objects, rows};

/// What a plain reading of one document says it is: `Some(3)` or `Some(22)` for a Sysmon
/// network event, whatever the shape, `None` for anything else.
fn network_event_id(document: &Value) -> Option<u64> {
    let winlog = document.get("winlog");
    let provider = ["source_name", "SourceName"]
        .iter()
        .find_map(|key| document.get(*key))
        .or_else(|| winlog?.get("provider_name"))
        .and_then(Value::as_str);
    if provider != Some("Microsoft-Windows-Sysmon") {
        return None;
    }
    let id = ["event_id", "EventID"]
        .iter()
        .find_map(|key| document.get(*key))
        .or_else(|| winlog?.get("event_id"))?;
    let id = id.as_u64().or_else(|| id.as_str()?.parse().ok())?;
    [3, 22].contains(&id).then_some(id)
}

#[test]
fn converting_the_whole_corpus_accounts_for_every_document() {
    let inputs = corpus_files();
    let (mut documents, mut connections, mut queries, mut others) = (0u64, 0u64, 0u64, 0u64);
    for path in &inputs {
        for line in non_empty_lines(path) {
            documents += 1;
            let document: Value = serde_json::from_slice(&line).expect("corpus JSON");
            match network_event_id(&document) {
                Some(3) => connections += 1,
                Some(22) => queries += 1,
                _ => others += 1,
            }
        }
    }
    assert!(connections > 0 && queries > 0 && others > 0);

    let conversion = convert(&inputs, &[]);
    let summary = &conversion.summary;
    let tree = rows(&conversion.root());
    let conn_rows = tree.iter().filter(|row| row.log == "conn").count() as u64;
    let dns_rows: Vec<_> = tree.iter().filter(|row| row.log == "dns").collect();
    let rejects = conversion.root().join("rejects.ndjson");
    let rejected: Vec<Value> = if rejects.exists() {
        non_empty_lines(&rejects)
            .iter()
            .map(|line| serde_json::from_slice(line).expect("a JSON reject"))
            .collect()
    } else {
        Vec::new()
    };
    let rejected_with = |id: u64| {
        rejected
            .iter()
            .filter(|reject| {
                let document = reject["document"].as_str().expect("document text");
                serde_json::from_str(document)
                    .ok()
                    .and_then(|d: Value| network_event_id(&d))
                    == Some(id)
            })
            .count() as u64
    };

    // Every network document is a row, DNS rows, or a reject; nothing else is either.
    assert_eq!(conn_rows + rejected_with(3), connections, "event 3");
    assert_eq!(
        dns_events(&dns_rows) + rejected_with(22),
        queries,
        "event 22"
    );
    assert_eq!(rejected.len() as u64, rejected_with(3) + rejected_with(22));

    // The summary agrees with the input and with the tree.
    assert_eq!(summary.documents, documents, "{}", conversion.stdout);
    assert_eq!(summary.skipped.total, others, "{}", conversion.stdout);
    assert_eq!(summary.rejected.total, rejected.len() as u64);
    assert_eq!(
        summary.events.total,
        conn_rows + dns_events(&dns_rows),
        "{}",
        conversion.stdout
    );
    assert_eq!(
        summary.events.total + summary.skipped.total + summary.rejected.total,
        documents
    );
    assert_eq!(summary.rows.part("conn"), conn_rows);
    assert_eq!(summary.rows.part("dns"), dns_rows.len() as u64);
    assert_eq!(summary.rows.total, tree.len() as u64);
    assert_eq!(
        summary.events.parts.values().sum::<u64>(),
        summary.events.total
    );
    assert_eq!(
        summary.skipped.parts.values().sum::<u64>(),
        summary.skipped.total
    );
    assert_eq!(summary.objects, objects(&conversion.root()).len() as u64);
}

/// A corpus line changed by `edit`, as text.
fn edited(path: &std::path::Path, number: usize, edit: impl FnOnce(&mut Value)) -> String {
    let line = &non_empty_lines(path)[number - 1];
    let mut document: Value = serde_json::from_slice(line).expect("corpus JSON");
    edit(&mut document);
    serde_json::to_string(&document).expect("serialise")
}

#[test]
fn rejected_documents_go_to_the_rejects_file_with_reason_detail_source_line_and_text() {
    let corpus = corpus_files();
    let wlb6 = corpus
        .iter()
        .find(|p| p.ends_with("winlogbeat6/otrf_wlb6_empire_enable_rdp_sysmon_net.ndjson"))
        .expect("a Winlogbeat 6 file");
    let good = edited(wlb6, 1, |_| {});
    let truncated = good[..good.len() / 2].to_owned();
    let bad_address = edited(wlb6, 4, |d| {
        d["event_data"]["DestinationIp"] = "10.0.10.300".into();
    });
    let other = String::from_utf8(
        non_empty_lines(&support::repo_path(
            "tests/data/corpus/winlogbeat6/otrf_wlb6_negatives.ndjson",
        ))[0]
            .clone(),
    )
    .expect("UTF-8");

    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("mixed.ndjson");
    let mut file = std::fs::File::create(&input).expect("input file");
    // Line 3 is blank: not a document, but it counts for line numbers.
    for line in [&good, &truncated, "", &bad_address, &other] {
        writeln!(file, "{line}").expect("write input");
    }
    drop(file);

    let conversion = convert(std::slice::from_ref(&input), &[]);
    let summary = &conversion.summary;
    assert_eq!(summary.documents, 4, "{}", conversion.stdout);
    assert_eq!(summary.events.total, 1);
    assert_eq!(summary.skipped.total, 1);
    assert_eq!(summary.rejected.total, 2);
    assert_eq!(summary.rejected.part("not_json"), 1);
    assert_eq!(summary.rejected.part("bad_address"), 1);
    let rejects_path = conversion.root().join("rejects.ndjson");
    assert!(
        conversion
            .stdout
            .contains(&format!("rejected documents: {}", rejects_path.display())),
        "{}",
        conversion.stdout
    );

    let rejects: Vec<Value> = non_empty_lines(&rejects_path)
        .iter()
        .map(|line| serde_json::from_slice(line).expect("NDJSON"))
        .collect();
    assert_eq!(rejects.len(), 2);
    let source = input.display().to_string();
    let (cut, address) = (&rejects[0], &rejects[1]);
    assert_eq!(cut["reason"], "not_json");
    assert_eq!(cut["source"], source.as_str());
    assert_eq!(cut["line"], 2);
    assert_eq!(cut["document"], truncated.as_str());
    assert!(!cut["detail"].as_str().expect("detail").is_empty());
    assert_eq!(address["reason"], "bad_address");
    assert_eq!(address["source"], source.as_str());
    assert_eq!(address["line"], 4);
    assert_eq!(address["document"], bad_address.as_str());
    let detail = address["detail"].as_str().expect("detail");
    assert!(
        detail.contains("DestinationIp") && detail.contains("10.0.10.300"),
        "{detail}"
    );

    // The good document still became its row.
    let tree = rows(&conversion.root());
    assert_eq!(tree.len(), 1);
    assert_eq!(tree[0].fields["id.orig_p"], "57638");
}

#[test]
fn a_document_over_the_size_limit_is_rejected_as_oversize_as_run_dead_letters_it() {
    let wlb6 = support::repo_path(
        "tests/data/corpus/winlogbeat6/otrf_wlb6_empire_enable_rdp_sysmon_net.ndjson",
    );
    let good = edited(&wlb6, 1, |_| {});
    // A real event 3 that `espy run` would dead-letter with its default 1 MiB limit.
    let padded = edited(&wlb6, 1, |d| d["message"] = "x".repeat(1 << 20).into());

    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("padded.ndjson");
    std::fs::write(&input, format!("{good}\n{padded}\n")).expect("input file");

    let conversion = convert(std::slice::from_ref(&input), &[]);

    let summary = &conversion.summary;
    assert_eq!(summary.documents, 2, "{}", conversion.stdout);
    assert_eq!(summary.events.total, 1, "{}", conversion.stdout);
    assert_eq!(
        summary.rejected.part("oversize"),
        1,
        "{}",
        conversion.stdout
    );
    let rejects = non_empty_lines(&conversion.root().join("rejects.ndjson"));
    assert_eq!(rejects.len(), 1);
    let reject: Value = serde_json::from_slice(&rejects[0]).expect("NDJSON");
    assert_eq!(reject["reason"], "oversize");
    assert_eq!(reject["line"], 2);
    assert_eq!(reject["document"], padded.as_str());
    assert_eq!(rows(&conversion.root()).len(), 1);
}
