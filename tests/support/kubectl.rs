//! A runner for the real kubectl against a served simulated API: a generated kubeconfig and
//! discovery cache in a temporary directory, and SpreadPolicy manifests to apply.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a kubectl run printed.
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout with runs of spaces collapsed, so column widths do not matter.
    pub fn columns(&self) -> String {
        self.stdout
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub struct Kubectl {
    pub kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    pub fn new(address: SocketAddr) -> Self {
        let dir =
            std::env::temp_dir().join(format!("kube-spread-sim-kubectl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let kubeconfig = dir.join("kubeconfig");
        kube_spread::sim::write_kubeconfig(&kubeconfig, address).expect("kubeconfig");
        Self {
            kubeconfig,
            cache: dir.join("cache"),
        }
    }

    pub async fn run(&self, args: &[&str]) -> Run {
        let mut command = Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("join")
            .expect("kubectl on PATH");
        Run {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub async fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args).await;
        assert!(
            run.success,
            "kubectl {args:?} failed:\n{}\n{}",
            run.stdout, run.stderr
        );
        run
    }
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        if let Some(dir) = self.kubeconfig.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub fn manifest(dir: &Path, skew: i32) -> PathBuf {
    let path = dir.join(format!("policy-{skew}.yaml"));
    let text = format!(
        "apiVersion: kubespread.io/v1alpha1\nkind: SpreadPolicy\nmetadata:\n  name: apps\n  namespace: default\nspec:\n  scope: Workload\n  constraints:\n  - maxSkew: {skew}\n    topologyKey: kubernetes.io/hostname\n    whenUnsatisfiable: ScheduleAnyway\n"
    );
    std::fs::write(&path, text).expect("manifest");
    path
}

impl Kubectl {
    /// A runner with its own directory, for tests of one binary that run kubectl at once.
    pub fn isolated(address: SocketAddr, label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "kube-spread-sim-kubectl-{}-{label}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let kubeconfig = dir.join("kubeconfig");
        kube_spread::sim::write_kubeconfig(&kubeconfig, address).expect("kubeconfig");
        Self {
            kubeconfig,
            cache: dir.join("cache"),
        }
    }

    /// The runner's own directory, for manifests and editor scripts.
    pub fn dir(&self) -> PathBuf {
        self.kubeconfig.parent().expect("dir").to_path_buf()
    }

    /// Writes `text` to a file in the runner's directory; its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir().join(name);
        std::fs::write(&path, text).expect("file");
        path.to_str().expect("path").to_owned()
    }

    /// Runs kubectl with extra environment variables (e.g. `KUBE_EDITOR`).
    pub async fn run_with_env(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut command = Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("join")
            .expect("kubectl on PATH");
        Run {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}
