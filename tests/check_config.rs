//! `espy check-config`: the effective configuration is printed for operators to check,
//! never with a secret in it, whichever way the secret arrived.

use std::process::Command;

#[test]
fn check_config_hides_secrets_from_the_file_and_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("espy.toml");
    std::fs::write(
        &config,
        "[kafka.options]\n\"sasl.username\" = \"espy\"\n\"ssl.key.password\" = \"from-the-file\"\n\
         [output.s3]\nsecret_access_key = \"s3-secret\"\n",
    )
    .expect("write config");

    let output = Command::new(env!("CARGO_BIN_EXE_espy"))
        .args(["check-config", "--config"])
        .arg(&config)
        .env("ESPY_KAFKA__OPTIONS__SASL_PASSWORD", "from-the-environment")
        .env(
            "ESPY_KAFKA__OPTIONS__SSL_KEY_PEM",
            "-----BEGIN PRIVATE KEY-----",
        )
        .output()
        .expect("run espy check-config");
    let printed = String::from_utf8_lossy(&output.stdout);

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for secret in [
        "from-the-file",
        "from-the-environment",
        "PRIVATE KEY",
        "s3-secret",
    ] {
        assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
    }
    // Options appear under librdkafka's names, secrets masked, the rest as given.
    for line in [
        "\"sasl.password\" = \"<hidden>\"",
        "\"ssl.key.pem\" = \"<hidden>\"",
        "\"sasl.username\" = \"espy\"",
    ] {
        assert!(printed.contains(line), "{line} missing:\n{printed}");
    }
}
