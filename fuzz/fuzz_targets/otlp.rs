//! OTLP export requests (protobuf and JSON, every signal), hostile bytes first: never a
//! panic; what maps goes into a model (cumulative streams remembered across inputs) that
//! renders in every format, native histograms at any schema included. The first byte picks
//! the signal (`% 3`), the encoding (bit 7: JSON) and where requests come from (bit 6:
//! spans); the rest is the message.
#![no_main]
use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use locust_exporter::expose::{render_as, Format, Sets};
use locust_exporter::model::{Model, ModelConfig};
use locust_exporter::parse::otlp::{Encoding, Options, Receiving, RequestsFrom, Signal};

thread_local! {
    static RECEIVING: RefCell<[Receiving; 2]> = RefCell::new(
        [RequestsFrom::Metrics, RequestsFrom::Spans]
            .map(|requests_from| Receiving::new(Options { requests_from, ..Options::default() })),
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let signal = [Signal::Metrics, Signal::Traces, Signal::Logs][usize::from(pick % 3)];
    let encoding = if pick & 0x80 == 0 { Encoding::Protobuf } else { Encoding::Json };
    let from = usize::from(pick & 0x40 != 0);
    let Ok(export) = RECEIVING.with(|r| r.borrow_mut()[from].export(signal, encoding, body, 1.8e9)) else {
        return;
    };
    let mut model = Model::new(ModelConfig::default());
    for s in export.services {
        model.apply_all(&s.name, s.updates, 1.8e9);
    }
    let snap = model.snapshot(1.8e9 + 1.0);
    for format in Format::ALL {
        let _ = render_as(format, &snap, Sets::default(), &[]);
    }
});
