//! The upstream over TLS, as production always is: a test CA, trusted
//! through `proxy.ca_file`, and refused when it is not.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Mock, Sidecar, http};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("openssl is needed for this test: {e}"));
    assert!(status.success(), "openssl {args:?} failed");
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn make_pki(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "1",
                "-subj",
                "/CN=bedrock-tuner test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
        ],
    );
}

const INVOKE: &str = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke";
const BODY: &str = r#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#;

#[test]
fn forwards_over_tls_to_an_upstream_signed_by_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    make_pki(dir.path());
    let cert = dir.path().join("server.pem").display().to_string();
    let key = dir.path().join("server.key").display().to_string();
    let mock = Mock::start_with(&["--tls-cert", &cert, "--tls-key", &key]);
    let config = dir.path().join("sidecar.toml");
    let ca = dir.path().join("ca.pem").display().to_string();
    std::fs::write(&config, format!("[proxy]\nca_file = {ca:?}\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    let upstream = format!("https://127.0.0.1:{}", mock.port);
    let config_arg = config.display().to_string();
    let sidecar = Sidecar::start(&upstream, &["--config", &config_arg]);
    // The mock answers 403 to any signature it cannot verify, so a 200 with
    // its usage figures means TLS, forwarding and signing all held.
    let (status, body) = http(sidecar.port, "POST", INVOKE, BODY);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("output_tokens"), "{body}");
}

#[test]
fn refuses_an_upstream_whose_certificate_it_cannot_verify() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    make_pki(dir.path());
    let cert = dir.path().join("server.pem").display().to_string();
    let key = dir.path().join("server.key").display().to_string();
    let mock = Mock::start_with(&["--tls-cert", &cert, "--tls-key", &key]);
    let sidecar = Sidecar::start(&format!("https://127.0.0.1:{}", mock.port), &[]);
    let (status, body) = http(sidecar.port, "POST", INVOKE, BODY);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("could not reach the upstream"), "{body}");
    assert!(body.to_ascii_lowercase().contains("certificate"), "{body}");
}
