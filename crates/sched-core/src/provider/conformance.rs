//! A suite of behaviours every [`Provider`] must show, written once and run
//! against each backend (the simulated cloud, AWS on an emulator).
//!
//! A backend's test implements [`Harness`], which says how to let time
//! pass, which offerings to use, how to make the cloud reclaim an instance,
//! how to restart the process and how to tear everything down; then it
//! calls [`run_all`] (or single checks) from its own async runtime. A
//! failed check panics with what it expected and the events it saw.
//!
//! The checks: launch and ready (a retried launch rents nothing twice),
//! start and observe (a retried start runs nothing twice; started, then
//! exited with code 0), stop (a stopped task's end is not an exit), reclaim
//! (the cloud's reclaim is reported once and the task on it does not exit),
//! release (a terminated instance is reported terminated, never reclaimed,
//! and takes no task), restart and find (a new provider over the same cloud
//! finds what the old one started: no second start, a terminate that
//! works), tear-down (nothing left).

use async_trait::async_trait;

use crate::catalog::OfferingId;
use crate::engine::Event;
use crate::problem::{InstanceId, TaskId};
use crate::provider::Provider;
use crate::resources::Resources;

/// How the suite drives one backend.
#[async_trait]
pub trait Harness: Send + Sync {
    /// The provider under test.
    type P: Provider;

    /// The current provider (a new one after [`Harness::restart`]).
    fn provider(&self) -> &Self::P;

    /// An on-demand offering to launch.
    fn offering(&self) -> OfferingId;

    /// A spot offering whose instances [`Harness::reclaim`] can take back.
    fn spot_offering(&self) -> OfferingId;

    /// What tasks are given.
    fn shape(&self) -> Resources {
        Resources { millicpus: 1000, memory_mib: 1024, gpus: 0 }
    }

    /// How many passes of time to wait for an expected event.
    fn patience(&self) -> usize {
        50
    }

    /// Readies `task` to be started: a short one exits with code 0 after a
    /// few passes of time; a long one runs until stopped or reclaimed.
    async fn prepare_task(&self, task: TaskId, long: bool);

    /// Lets time pass: advances a virtual clock, plays an agent, or waits.
    async fn pass_time(&self);

    /// Makes the cloud take `instance` (of the spot offering) back.
    async fn reclaim(&self, instance: InstanceId);

    /// Replaces the provider with a new one over the same cloud, as after
    /// a restart of the process, letting it find what the old one left.
    async fn restart(&mut self);

    /// Removes everything the provider created.
    async fn tear_down(&mut self);

    /// What the provider created that still exists, by name.
    async fn leftovers(&self) -> Vec<String>;
}

/// Polls events, letting time pass between polls, until `done` holds for
/// all seen so far; panics after the harness's patience.
pub async fn wait_for<H: Harness>(
    harness: &H,
    what: &str,
    mut done: impl FnMut(&[Event]) -> bool + Send,
) -> Vec<Event> {
    let mut seen = Vec::new();
    for _ in 0..harness.patience() {
        seen.extend(harness.provider().events().await.expect("events"));
        if done(&seen) {
            return seen;
        }
        harness.pass_time().await;
    }
    panic!("waited for {what}; events were {seen:?}");
}

/// Lets time pass `passes` times, collecting the events.
pub async fn collect<H: Harness>(harness: &H, passes: usize) -> Vec<Event> {
    let mut seen = Vec::new();
    for _ in 0..passes {
        harness.pass_time().await;
        seen.extend(harness.provider().events().await.expect("events"));
    }
    seen
}

fn count(events: &[Event], wanted: &Event) -> usize {
    events.iter().filter(|e| *e == wanted).count()
}

/// Launches `instance` of `offering` (twice, as a retry would) and waits
/// until it is ready; it is reported ready once.
pub async fn launch_ready<H: Harness>(harness: &H, instance: InstanceId, offering: OfferingId) {
    let p = harness.provider();
    p.launch(instance, offering).await.expect("launch");
    p.launch(instance, offering).await.expect("retried launch");
    let ready = Event::InstanceReady { instance };
    let seen = wait_for(harness, "instance ready", |e| e.contains(&ready)).await;
    let later = collect(harness, 2).await;
    assert_eq!(count(&seen, &ready) + count(&later, &ready), 1, "ready once: {seen:?} {later:?}");
}

/// Check: launch, start twice, observe started then exited 0, release.
pub async fn start_and_observe<H: Harness>(harness: &H) {
    let (instance, task) = (InstanceId(101), TaskId(101));
    launch_ready(harness, instance, harness.offering()).await;
    harness.prepare_task(task, false).await;
    let p = harness.provider();
    p.start_task(task, instance, harness.shape()).await.expect("start");
    p.start_task(task, instance, harness.shape()).await.expect("retried start");
    let exited = |e: &Event| matches!(e, Event::TaskExited { task: t, .. } if *t == task);
    let seen = wait_for(harness, "task exit", |e| e.iter().any(exited)).await;
    let started = Event::TaskStarted { task };
    assert_eq!(count(&seen, &started), 1, "started once: {seen:?}");
    let at_start = seen.iter().position(|e| *e == started).unwrap();
    let at_exit = seen.iter().position(exited).unwrap();
    assert!(at_start < at_exit, "started before exited: {seen:?}");
    assert_eq!(seen[at_exit], Event::TaskExited { task, exit_code: 0 });
    release(harness, instance).await;
}

/// Check: a stopped task's end is not reported as an exit.
pub async fn stop<H: Harness>(harness: &H) {
    let (instance, task) = (InstanceId(201), TaskId(201));
    launch_ready(harness, instance, harness.offering()).await;
    harness.prepare_task(task, true).await;
    let p = harness.provider();
    p.start_task(task, instance, harness.shape()).await.expect("start");
    p.stop_task(task).await.expect("stop");
    p.stop_task(task).await.expect("retried stop");
    let seen = collect(harness, 8).await;
    assert!(
        !seen.iter().any(|e| matches!(e, Event::TaskExited { task: t, .. } if *t == task)),
        "a stopped task exits silently: {seen:?}"
    );
    release(harness, instance).await;
}

/// Check: a reclaim is reported once; the task on the instance does not exit.
pub async fn reclaim<H: Harness>(harness: &H) {
    let (instance, task) = (InstanceId(301), TaskId(301));
    launch_ready(harness, instance, harness.spot_offering()).await;
    harness.prepare_task(task, true).await;
    harness.provider().start_task(task, instance, harness.shape()).await.expect("start");
    harness.reclaim(instance).await;
    let reclaimed = Event::InstanceReclaimed { instance };
    let mut seen = wait_for(harness, "reclaim", |e| e.contains(&reclaimed)).await;
    seen.extend(collect(harness, 4).await);
    assert_eq!(count(&seen, &reclaimed), 1, "reclaimed once: {seen:?}");
    assert!(
        !seen.iter().any(|e| matches!(e, Event::TaskExited { task: t, .. } if *t == task)),
        "a task on a reclaimed instance does not exit: {seen:?}"
    );
}

/// Terminates `instance` and checks it is reported terminated, never
/// reclaimed, and takes no new task.
pub async fn release<H: Harness>(harness: &H, instance: InstanceId) {
    let p = harness.provider();
    p.terminate(instance).await.expect("terminate");
    let terminated = Event::InstanceTerminated { instance };
    let mut seen = wait_for(harness, "terminated", |e| e.contains(&terminated)).await;
    seen.extend(collect(harness, 3).await);
    assert!(
        !seen.contains(&Event::InstanceReclaimed { instance }),
        "a released instance is not reclaimed: {seen:?}"
    );
    harness.prepare_task(TaskId(instance.0 + 50), false).await;
    assert!(
        p.start_task(TaskId(instance.0 + 50), instance, harness.shape()).await.is_err(),
        "a released instance takes no task"
    );
}

/// Check: a new provider finds what the old one started.
pub async fn restart_and_find<H: Harness>(harness: &mut H) {
    let (instance, task) = (InstanceId(401), TaskId(401));
    launch_ready(harness, instance, harness.offering()).await;
    harness.prepare_task(task, true).await;
    harness.provider().start_task(task, instance, harness.shape()).await.expect("start");
    wait_for(harness, "task started", |e| e.contains(&Event::TaskStarted { task })).await;

    harness.restart().await;
    harness.prepare_task(task, true).await;
    let p = harness.provider();
    p.start_task(task, instance, harness.shape()).await.expect("start after restart");
    let seen = collect(harness, 3).await;
    assert!(
        !seen.contains(&Event::TaskStarted { task }),
        "the running task is found, not started again: {seen:?}"
    );
    p.stop_task(task).await.expect("stop after restart");
    release(harness, instance).await;
}

/// Check: tear-down leaves nothing.
pub async fn tear_down<H: Harness>(harness: &mut H) {
    harness.tear_down().await;
    let left = harness.leftovers().await;
    assert!(left.is_empty(), "tear-down left {left:?}");
}

/// Every check, in an order that leaves each one a clean start.
pub async fn run_all<H: Harness>(harness: &mut H) {
    start_and_observe(harness).await;
    stop(harness).await;
    reclaim(harness).await;
    restart_and_find(harness).await;
    tear_down(harness).await;
}
