//! Web-UI `/stats/requests` JSON, hostile worker lists first: never a panic; every worker id
//! is cut to the label limit and listed once; the status goes into a model that renders in
//! every format. The input is used as is, and also as the worker list of a valid status
//! (each 0-separated part an id, repeated and long ones included).
#![no_main]
use libfuzzer_sys::fuzz_target;
use locust_exporter::expose::{render_as, Format, Sets};
use locust_exporter::model::update::Update;
use locust_exporter::model::{Model, ModelConfig, MAX_LABEL_BYTES};
use locust_exporter::parse::{whole_file, FileRole};

fn check(input: &[u8]) {
    let Ok(Some((update, _))) = whole_file(FileRole::Status, input) else {
        return;
    };
    if let Update::Runner(status) = &update {
        if let Some(workers) = &status.workers {
            let mut seen = std::collections::HashSet::new();
            for w in workers {
                assert!(w.id.len() <= MAX_LABEL_BYTES, "a worker id of {} bytes", w.id.len());
                assert!(seen.insert(w.id.clone()), "worker {:?} listed twice", w.id);
            }
        }
    }
    let mut model = Model::new(ModelConfig::default());
    model.apply("fuzz", update, 1.0e9);
    let snap = model.snapshot(1.0e9 + 1.0);
    for format in Format::ALL {
        let _ = render_as(format, &snap, Sets::default().with("containersolutions"), &[]);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let ids: Vec<String> = data
        .split(|b| *b == 0)
        .map(|part| {
            // Long ids from short inputs: a part starting with 0xff is repeated.
            let text = String::from_utf8_lossy(part).replace(['"', '\\'], "_");
            if part.first() == Some(&0xff) { text.repeat(700) } else { text }
        })
        .collect();
    let workers: Vec<String> = ids
        .iter()
        .map(|id| format!(r#"{{"id":"{id}","state":"running","user_count":1}}"#))
        .collect();
    let json = format!(
        r#"{{"state":"running","user_count":3,"stats":[],"workers":[{}]}}"#,
        workers.join(",")
    );
    check(json.as_bytes());
});
