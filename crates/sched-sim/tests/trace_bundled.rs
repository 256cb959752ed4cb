//! The trace reader on every bundled trace in `data/traces/`.
//!
//! Row counts are those of `data/PROVENANCE.md`; the exact values were read off the file text by
//! hand (sizes: value x 1024^unit, rounded half up; timestamps: the wall-clock time as UTC).

use std::collections::HashSet;
use std::path::PathBuf;

use sched_sim::trace::{
    read_trace, request_of, requests_for, RequestSource, TaskOutcome, Trace, TraceTask, Units,
};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn bundled(file: &str) -> Trace {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/traces").join(file);
    read_trace(&path).unwrap_or_else(|err| panic!("{file}: {err}"))
}

fn at_line(trace: &Trace, line: u64) -> &TraceTask {
    trace
        .tasks
        .iter()
        .find(|task| task.line == line)
        .unwrap_or_else(|| panic!("{}: no task on line {line}", trace.path))
}

fn count(trace: &Trace, status: TaskOutcome) -> usize {
    trace.tasks.iter().filter(|task| task.status == status).count()
}

/// Every task id is unique and every line is a data line in file order.
fn assert_well_formed(trace: &Trace) {
    let ids: Vec<u64> = trace.tasks.iter().filter_map(|task| task.task_id).collect();
    let unique: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "{}: duplicate task ids", trace.path);
    assert!(trace.tasks.windows(2).all(|w| w[0].line < w[1].line), "{}: order", trace.path);
    assert!(trace.tasks.iter().all(|task| task.line >= 2));
    assert!(trace.tasks.iter().all(|task| !task.process.is_empty() && !task.name.is_empty()));
}

#[test]
fn chipseq_local_human_tsv() {
    let trace = bundled("nfcore-chipseq_local_execution_trace.txt");
    assert_well_formed(&trace);
    assert_eq!(trace.tasks.len(), 275);
    assert_eq!(trace.skipped_cached, 0);
    assert_eq!(count(&trace, TaskOutcome::Completed), 258);
    assert_eq!(count(&trace, TaskOutcome::Failed), 17);
    assert_eq!(trace.layout.separator, '\t');
    assert_eq!(trace.layout.units, Units::Human);
    assert_eq!(trace.layout.columns.len(), 14);
    assert!(trace.repaired_lines.is_empty());

    // 5  19/beb69e  3038  CHIPSEQ:OUTPUT_DOCUMENTATION  COMPLETED  0  2021-02-17 17:03:21.800
    // 1m 20s  241ms  85.2%  14.2 MB ...
    let first = at_line(&trace, 2);
    assert_eq!(first.task_id, Some(5));
    assert_eq!(first.hash.as_deref(), Some("19/beb69e"));
    assert_eq!(first.name, "CHIPSEQ:OUTPUT_DOCUMENTATION");
    assert_eq!(first.process, "CHIPSEQ:OUTPUT_DOCUMENTATION");
    assert_eq!(first.exit_code, Some(0));
    assert_eq!(first.submit_ms, Some(1_613_581_401_800));
    assert_eq!(first.duration_ms, Some(80_000));
    assert_eq!(first.realtime_ms, Some(241));
    assert_eq!(first.cpu_percent, Some(85.2));
    assert_eq!(first.peak_rss_bytes, Some(14_889_779));
    assert_eq!(first.requested_cpus, None);
    assert_eq!(first.requested_memory_bytes, None);

    // 67 ... PICARD_MARKDUPLICATES (SPT5_INPUT_R1) ... 9.8s 9.1s 159.8% 2.3 GB
    let markdup = at_line(&trace, 68);
    assert_eq!(markdup.process, "CHIPSEQ:MARK_DUPLICATES_PICARD:PICARD_MARKDUPLICATES");
    assert_eq!(markdup.realtime_ms, Some(9_100));
    assert_eq!(markdup.peak_rss_bytes, Some(2_469_606_195)); // 2.3 * 2^30 = 2469606195.2

    // 178 ... SAMTOOLS_IDXSTATS (SPT5_INPUT_R2) ... 686ms 22ms 100.0% 0 0: a bare zero size.
    let idxstats = at_line(&trace, 179);
    assert_eq!(idxstats.peak_rss_bytes, Some(0));
    assert_eq!(idxstats.realtime_ms, Some(22));

    // 120 ... PHANTOMPEAKQUALTOOLS (SPT5_INPUT_R1) FAILED 127 ... 580ms 482ms - - - - -
    let failed = at_line(&trace, 119);
    assert_eq!(failed.task_id, Some(120));
    assert_eq!(failed.status, TaskOutcome::Failed);
    assert_eq!(failed.exit_code, Some(127));
    assert_eq!(failed.realtime_ms, Some(482));
    assert_eq!(failed.cpu_percent, None);
    assert_eq!(failed.peak_rss_bytes, None);
}

#[test]
fn openproblems_awsbatch_human_tsv() {
    let trace = bundled("openproblems_awsbatch_execution_trace.txt");
    assert_well_formed(&trace);
    assert_eq!(trace.tasks.len(), 864);
    assert_eq!(count(&trace, TaskOutcome::Completed), 852);
    assert_eq!(count(&trace, TaskOutcome::Failed), 12);
    let failed_exits: HashSet<Option<i32>> = trace
        .tasks
        .iter()
        .filter(|task| task.status == TaskOutcome::Failed)
        .map(|task| task.exit_code)
        .collect();
    assert_eq!(failed_exits, HashSet::from([Some(137)]));
    assert_eq!(trace.layout.units, Units::Human);

    // 1 16/f04a92 ... list_tasks COMPLETED 0 2022-05-13 03:02:26.406 7m 8s 16.2s 47.6% 206.9 MB
    let first = at_line(&trace, 2);
    assert_eq!(first.task_id, Some(1));
    assert_eq!(first.name, "list_tasks");
    assert_eq!(first.submit_ms, Some(1_652_410_946_406));
    assert_eq!(first.duration_ms, Some(428_000));
    assert_eq!(first.realtime_ms, Some(16_200));
    assert_eq!(first.cpu_percent, Some(47.6));
    assert_eq!(first.peak_rss_bytes, Some(216_950_374));

    // 90 ... load_dataset (batch_integration_graph:pancreas_batch:openproblems) FAILED 137 ...
    // 6m 48s 5m 39s - - - - -
    let oom = at_line(&trace, 166);
    assert_eq!(oom.task_id, Some(90));
    assert_eq!(oom.process, "load_dataset");
    assert_eq!(oom.exit_code, Some(137));
    assert_eq!(oom.duration_ms, Some(408_000));
    assert_eq!(oom.realtime_ms, Some(339_000));
    assert_eq!(oom.peak_rss_bytes, None);

    // Alone the OOM-killed task knows nothing; with its process's other tasks it takes their
    // largest use: peak 7.2 GB (7730941133 B) x 1.2 -> 8960 MiB, %cpu at most 99.0 -> 1 cpu.
    let index = trace.tasks.iter().position(|task| task.line == 166).unwrap();
    assert_eq!(request_of(oom).1, RequestSource::Defaulted);
    let (request, source) = requests_for(&trace.tasks)[index];
    assert_eq!(source, RequestSource::Peers);
    assert_eq!((request.millicpus, request.memory_mib), (1000, 8960));
}

#[test]
fn sarek_slurm_custom_fields_with_requests() {
    let trace = bundled("nfcore-sarek_slurm_trace_custom-fields.txt");
    assert_well_formed(&trace);
    assert_eq!(trace.tasks.len(), 9);
    assert_eq!(trace.layout.units, Units::Human);
    assert!(!trace.layout.has_column("task_id"));
    assert!(!trace.layout.has_column("submit"));
    assert!(trace.tasks.iter().all(|task| task.task_id.is_none() && task.submit_ms.is_none()));

    // FASTP (HCC1395N-1) COMPLETED 0 13m 44s 2m 57s 12 1098.4% 4 GB 0.4% 1.5 GB 1.5 GB ...
    let fastp = at_line(&trace, 6);
    assert_eq!(fastp.name, "NFCORE_SAREK:SAREK:FASTQ_PREPROCESS_GATK:FASTP (HCC1395N-1)");
    assert_eq!(fastp.process, "NFCORE_SAREK:SAREK:FASTQ_PREPROCESS_GATK:FASTP");
    assert_eq!(fastp.duration_ms, Some(824_000));
    assert_eq!(fastp.realtime_ms, Some(177_000));
    assert_eq!(fastp.requested_cpus, Some(12));
    assert_eq!(fastp.cpu_percent, Some(1098.4));
    assert_eq!(fastp.requested_memory_bytes, Some(4 * GIB));
    assert_eq!(fastp.peak_rss_bytes, Some(1_610_612_736));
    let (request, source) = request_of(fastp);
    assert_eq!(
        (request.millicpus, request.memory_mib, source),
        (12_000, 4096, RequestSource::Recorded)
    );

    // TABIX_BGZIPTABIX_INTERVAL_SPLIT (chr17_...) ... 25.4s 195ms 1 81.2% 1 GB 0.0% 0 0
    let split = at_line(&trace, 4);
    assert_eq!(split.realtime_ms, Some(195));
    assert_eq!(split.requested_memory_bytes, Some(GIB));
    assert_eq!(split.peak_rss_bytes, Some(0));

    // MULTIQC COMPLETED 0 59.9s 16.5s 4 44.3% 12 GB 0.0% 873.8 MB 921.2 MB ...
    let multiqc = at_line(&trace, 10);
    assert_eq!(multiqc.name, "NFCORE_SAREK:SAREK:MULTIQC");
    assert_eq!(multiqc.process, "NFCORE_SAREK:SAREK:MULTIQC");
    assert_eq!(multiqc.duration_ms, Some(59_900));
    assert_eq!(multiqc.realtime_ms, Some(16_500));
    assert_eq!(multiqc.requested_cpus, Some(4));
    assert_eq!(multiqc.requested_memory_bytes, Some(12 * GIB));
    assert_eq!(multiqc.peak_rss_bytes, Some(965_948_211)); // 921.2 * 2^20 = 965948211.2
}

#[test]
fn scisoseq_hpc_skips_cached_rows() {
    let trace = bundled("nfcore-scisoseq_hpc_execution_trace.txt");
    assert_well_formed(&trace);
    assert_eq!(trace.skipped_cached, 6);
    assert_eq!(trace.tasks.len(), 2);

    // 1 64/ea7cfd 59265840 get_software_versions COMPLETED 0 2020-01-24 15:07:10.558 2m 33s
    // 3.7s 58.7% 66.3 MB ...
    let versions = at_line(&trace, 8);
    assert_eq!(versions.task_id, Some(1));
    assert_eq!(versions.status, TaskOutcome::Completed);
    assert_eq!(versions.submit_ms, Some(1_579_878_430_558));
    assert_eq!(versions.duration_ms, Some(153_000));
    assert_eq!(versions.realtime_ms, Some(3_700));
    assert_eq!(versions.cpu_percent, Some(58.7));
    assert_eq!(versions.peak_rss_bytes, Some(69_520_589)); // 66.3 * 2^20 = 69520588.8
    let (request, source) = request_of(versions);
    assert_eq!(
        (request.millicpus, request.memory_mib, source),
        (1000, 512, RequestSource::Derived)
    );

    // 8 9b/eb4f64 59265841 collate_results (1) FAILED 1 2020-01-24 15:07:11.989 7m 22s 4m 55s -
    let collate = at_line(&trace, 9);
    assert_eq!(collate.task_id, Some(8));
    assert_eq!(collate.process, "collate_results");
    assert_eq!(collate.status, TaskOutcome::Failed);
    assert_eq!(collate.exit_code, Some(1));
    assert_eq!(collate.submit_ms, Some(1_579_878_431_989));
    assert_eq!(collate.duration_ms, Some(442_000));
    assert_eq!(collate.realtime_ms, Some(295_000));
    assert_eq!(collate.cpu_percent, None);
    assert_eq!(collate.peak_rss_bytes, None);
}

#[test]
fn rnaseq_k8s_raw_comma_with_quoted_fields() {
    let trace = bundled("nfcore-rnaseq_k8s_raw_trace.csv");
    assert_well_formed(&trace);
    assert_eq!(trace.tasks.len(), 1308);
    assert_eq!(count(&trace, TaskOutcome::Completed), 1308);
    assert_eq!(trace.layout.separator, ',');
    assert_eq!(trace.layout.units, Units::Raw);
    assert_eq!(trace.layout.columns.len(), 77);
    assert!(trace.tasks.iter().all(|task| task.requested_cpus.is_some()));
    assert!(trace.tasks.iter().all(|task| task.requested_memory_bytes.is_some()));

    // 2,cpu18,...,NFCORE_RNASEQ:RNASEQ:PREPARE_GENOME:CUSTOM_GETCHROMSIZES,genome.fa,...,
    // COMPLETED,0,-,quay.io/biocontainers/samtools:1.15.1--h1170115_0,2,14400000,-,12884901888,1,
    // 1680894456103,1680894456000,1680894467000,10897,11000,-,100.2,0.0,4927488,12394496,4927488
    let first = at_line(&trace, 2);
    assert_eq!(first.task_id, Some(2));
    assert_eq!(first.process, "NFCORE_RNASEQ:RNASEQ:PREPARE_GENOME:CUSTOM_GETCHROMSIZES");
    assert_eq!(first.tag.as_deref(), Some("genome.fa"));
    assert_eq!(
        first.container.as_deref(),
        Some("quay.io/biocontainers/samtools:1.15.1--h1170115_0")
    );
    assert_eq!(first.requested_cpus, Some(2));
    assert_eq!(first.requested_time_ms, Some(14_400_000));
    assert_eq!(first.requested_memory_bytes, Some(12 * GIB));
    assert_eq!(first.attempt, Some(1));
    assert_eq!(first.submit_ms, Some(1_680_894_456_103));
    assert_eq!(first.start_ms, Some(1_680_894_456_000));
    assert_eq!(first.complete_ms, Some(1_680_894_467_000));
    assert_eq!(first.duration_ms, Some(10_897));
    assert_eq!(first.realtime_ms, Some(11_000));
    assert_eq!(first.cpu_percent, Some(100.2));
    assert_eq!(first.peak_rss_bytes, Some(4_927_488));
    let (request, source) = request_of(first);
    assert_eq!(
        (request.millicpus, request.memory_mib, source),
        (2000, 12_288, RequestSource::Recorded)
    );

    // The last row: tag `-`, yet Nextflow numbered the name `MULTIQC (1)`.
    let last = at_line(&trace, 1309);
    assert_eq!(last.task_id, Some(1308));
    assert_eq!(last.tag, None);
    assert_eq!(last.name, "NFCORE_RNASEQ:RNASEQ:MULTIQC (1)");
    assert_eq!(last.process, "NFCORE_RNASEQ:RNASEQ:MULTIQC");
    assert_eq!(last.requested_cpus, Some(6));
    assert_eq!(last.requested_memory_bytes, Some(36 * GIB));
    assert_eq!(last.realtime_ms, Some(1_205_264));
    assert_eq!(last.peak_rss_bytes, Some(401_117_184));
}

#[test]
fn mag_k8s_raw_comma_large() {
    let trace = bundled("nfcore-mag_k8s_raw_trace.csv");
    assert_well_formed(&trace);
    assert_eq!(trace.tasks.len(), 6242);
    assert_eq!(count(&trace, TaskOutcome::Completed), 6242);
    assert_eq!(trace.layout.units, Units::Raw);

    // 6,node1,...,BOWTIE2_PHIX_REMOVAL_BUILD,...,1,14400000,-,7516192768,1,1678701065485,...,
    // 24515,0,-,65.9,...,8667136
    let first = at_line(&trace, 2);
    assert_eq!(first.task_id, Some(6));
    assert_eq!(first.process, "NFCORE_MAG:MAG:BOWTIE2_PHIX_REMOVAL_BUILD");
    assert_eq!(first.requested_cpus, Some(1));
    assert_eq!(first.requested_memory_bytes, Some(7 * GIB));
    assert_eq!(first.submit_ms, Some(1_678_701_065_485));
    assert_eq!(first.duration_ms, Some(24_515));
    assert_eq!(first.realtime_ms, Some(0));
    assert_eq!(first.cpu_percent, Some(65.9));
    assert_eq!(first.peak_rss_bytes, Some(8_667_136));

    let last = at_line(&trace, 6243);
    assert_eq!(last.task_id, Some(6123));
    assert_eq!(last.name, "NFCORE_MAG:MAG:MULTIQC");
    assert_eq!(last.requested_cpus, Some(6));
    assert_eq!(last.requested_memory_bytes, Some(36 * GIB));
    assert_eq!(last.realtime_ms, Some(97_675));
    assert_eq!(last.cpu_percent, Some(142.9));
    assert_eq!(last.peak_rss_bytes, Some(474_411_008));
}

#[test]
fn ampliseq_k8s_raw_semicolon_repairs_task_74() {
    let trace = bundled("nfcore-ampliseq_k8s_raw_trace_semicolon.csv");
    assert_well_formed(&trace);
    assert_eq!(trace.tasks.len(), 144);
    assert_eq!(trace.layout.separator, ';');
    assert_eq!(trace.layout.units, Units::Raw);
    assert_eq!(trace.layout.columns.len(), 39);
    assert_eq!(trace.repaired_lines, vec![75]);

    // 74;node10;8e/824941;...;NFCORE_AMPLISEQ:AMPLISEQ:QIIME2_FILTERTAXA;
    // taxa:mitochondria,chloroplast;min-freq:10;min-samples:2;
    // NFCORE_AMPLISEQ:AMPLISEQ:QIIME2_FILTERTAXA (taxa:...;min-freq:10;min-samples:2);COMPLETED;0;
    // -;quay.io/qiime2/core:2021.8;2;21600000;-;12884901888;1;1669570338878;1669570344000;
    // 1669570359000;20122;15017;-;108.9;0.2;232857600;4514586624;232857600;...
    let repaired = at_line(&trace, 75);
    let tag = "taxa:mitochondria,chloroplast;min-freq:10;min-samples:2";
    assert_eq!(repaired.task_id, Some(74));
    assert_eq!(repaired.hash.as_deref(), Some("8e/824941"));
    assert_eq!(repaired.process, "NFCORE_AMPLISEQ:AMPLISEQ:QIIME2_FILTERTAXA");
    assert_eq!(repaired.tag.as_deref(), Some(tag));
    assert_eq!(repaired.name, format!("NFCORE_AMPLISEQ:AMPLISEQ:QIIME2_FILTERTAXA ({tag})"));
    assert_eq!(repaired.status, TaskOutcome::Completed);
    assert_eq!(repaired.container.as_deref(), Some("quay.io/qiime2/core:2021.8"));
    assert_eq!(repaired.requested_cpus, Some(2));
    assert_eq!(repaired.requested_time_ms, Some(21_600_000));
    assert_eq!(repaired.requested_memory_bytes, Some(12 * GIB));
    assert_eq!(repaired.submit_ms, Some(1_669_570_338_878));
    assert_eq!(repaired.duration_ms, Some(20_122));
    assert_eq!(repaired.realtime_ms, Some(15_017));
    assert_eq!(repaired.cpu_percent, Some(108.9));
    assert_eq!(repaired.peak_rss_bytes, Some(232_857_600));

    // 8;node8;34/11fb80;...;RENAME_RAW_DATA_FILES (sampleID_2);COMPLETED;0;-;ubuntu:20.04;2;
    // 21600000;-;12884901888;1;1669569904223;...;6777;34;-;44.4;0.0;3002368;4071424;3002368
    let first = at_line(&trace, 2);
    assert_eq!(first.task_id, Some(8));
    assert_eq!(first.name, "NFCORE_AMPLISEQ:AMPLISEQ:RENAME_RAW_DATA_FILES (sampleID_2)");
    assert_eq!(first.submit_ms, Some(1_669_569_904_223));
    assert_eq!(first.duration_ms, Some(6_777));
    assert_eq!(first.realtime_ms, Some(34));
    assert_eq!(first.cpu_percent, Some(44.4));
    assert_eq!(first.peak_rss_bytes, Some(3_002_368));
    assert_eq!(first.requested_memory_bytes.map(|b| b / MIB), Some(12_288));
}

#[test]
fn a_cached_row_reads_like_one_that_ran() {
    // The first scisoseq row, CACHED in the file, with its status changed: its values are read
    // (and checked) even though the reader drops the row.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/traces/nfcore-scisoseq_hpc_execution_trace.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let demux = lines.next().unwrap().replace("CACHED", "COMPLETED");
    let trace =
        sched_sim::trace::parse_trace(format!("{header}\n{demux}\n").as_bytes(), "demux").unwrap();
    let task = &trace.tasks[0];
    // demux (primer removal: pacbio_exp1.ccs) ... 4h 12m 10s 4h 4m 23s 1577.7% 72.7 MB
    assert_eq!(task.process, "demux");
    assert_eq!(task.duration_ms, Some(15_130_000));
    assert_eq!(task.realtime_ms, Some(14_663_000));
    assert_eq!(task.cpu_percent, Some(1577.7));
    assert_eq!(task.peak_rss_bytes, Some(76_231_475)); // 72.7 * 2^20 = 76231475.2
    let (request, source) = request_of(task);
    assert_eq!(
        (request.millicpus, request.memory_mib, source),
        (16_000, 512, RequestSource::Derived)
    );
}
