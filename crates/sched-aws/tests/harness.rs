//! The harness fails, naming the install script, when moto is missing.
//! (Its own test binary: it sets an environment variable the others read.)

mod common;

use common::Moto;

#[test]
fn missing_emulator_names_the_script() {
    // The harness's message, checked where it is built.
    let result = std::panic::catch_unwind(|| {
        std::env::set_var("SCHED_MOTO_SERVER", "/nonexistent/moto_server");
        let moto = Moto::start();
        drop(moto);
    });
    std::env::remove_var("SCHED_MOTO_SERVER");
    let message = result.unwrap_err();
    let text = message.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("scripts/aws-emulator.sh"), "{text}");
}
