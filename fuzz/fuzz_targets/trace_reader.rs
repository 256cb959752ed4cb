//! Any bytes given to the trace reader give a trace or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(trace) = sched_sim::trace::parse_trace(data, "fuzz.txt") {
        // A trace that parses also turns into a workload without a panic.
        let _ = sched_sim::workload::Workload::from_trace(&trace);
    }
});
