use std::io::{Read, Write};

use super::confine::{lstat, open_file};
use super::object::etag;
use super::sidecar::Sidecars;
use super::*;
use crate::bindings::{AccessDenied, DeniedBy};

fn bucket(name: &str) -> BucketName {
    BucketName::new(name).unwrap()
}

fn key(key: &str) -> ObjectKey {
    ObjectKey::new(key).unwrap()
}

/// A root `data/` holding account 111111111111 with bucket `bkt` (one object,
/// `real.txt`), beside an `outside/` directory holding a secret the backend must never
/// reach.
struct Tree {
    dir: tempfile::TempDir,
    backend: LocalBackend,
    account: Account,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/111111111111/bkt")).unwrap();
        std::fs::write(dir.path().join("data/111111111111/bkt/real.txt"), "real").unwrap();
        std::fs::create_dir_all(dir.path().join("outside/dir")).unwrap();
        std::fs::write(dir.path().join("outside/secret.txt"), "secret").unwrap();
        std::fs::write(dir.path().join("outside/dir/inner.txt"), "inner").unwrap();
        let backend = LocalBackend::new(dir.path().join("data"));
        let account = Account {
            id: "111111111111".into(),
            alias: "dev".into(),
            region: "local".into(),
            tags: Vec::new(),
        };
        Tree {
            dir,
            backend,
            account,
        }
    }

    /// A relative link at `at` (below the root) to `target`.
    fn link(&self, target: &str, at: &str) {
        std::os::unix::fs::symlink(target, self.dir.path().join("data").join(at)).unwrap();
    }

    fn outside(&self) -> Vec<String> {
        let mut names = Vec::new();
        for dir in ["outside", "outside/dir"] {
            for entry in std::fs::read_dir(self.dir.path().join(dir)).unwrap() {
                let entry = entry.unwrap();
                let content = std::fs::read_to_string(entry.path()).unwrap_or_default();
                names.push(format!("{dir}/{}={content}", entry.file_name().display()));
            }
        }
        names.sort();
        names
    }

    fn object(&self, key: &str) -> Object {
        self.backend
            .object("111111111111", &bucket("bkt"), &self::key(key))
            .unwrap()
    }
}

fn refused_for_a_link<T: std::fmt::Debug>(result: Result<T, S3Error>) {
    match result {
        Err(S3Error::AccessDenied(AccessDenied {
            by: DeniedBy::Backend,
            message,
        })) => assert!(message.contains("symbolic link"), "{message}"),
        other => panic!("expected access-denied for a link, got {other:?}"),
    }
}

#[test]
fn a_link_is_told_apart_from_a_file_and_nothing_is_followed() {
    let tree = Tree::new();
    tree.link("../../../outside/dir", "111111111111/bkt/dir-link");
    tree.link("../../../outside/secret.txt", "111111111111/bkt/file-link");
    let bucket = tree
        .backend
        .open_bucket("111111111111", &bucket("bkt"))
        .unwrap()
        .dir;
    for name in ["dir-link", "file-link"] {
        assert!(matches!(open_dir(&bucket, name, false), Err(Miss::Link)));
        assert!(matches!(open_dir(&bucket, name, true), Err(Miss::Link)));
        assert!(matches!(open_file(&bucket, name), Err(Miss::Link)));
        assert!(matches!(lstat(&bucket, name), Err(Miss::Link)));
    }
    assert!(matches!(
        open_dir(&bucket, "real.txt", false),
        Err(Miss::WrongKind)
    ));
    assert!(matches!(
        open_dir(&bucket, "absent", false),
        Err(Miss::Absent)
    ));
    let (mut file, _) = open_file(&bucket, "real.txt").unwrap();
    let mut body = String::new();
    file.read_to_string(&mut body).unwrap();
    assert_eq!(body, "real");
}

#[tokio::test]
async fn every_call_refuses_a_link_in_the_key() {
    let tree = Tree::new();
    tree.link("../../../outside/dir", "111111111111/bkt/dir-link");
    tree.link("../../../outside/secret.txt", "111111111111/bkt/file-link");
    let before = tree.outside();
    let (b, a) = (&tree.backend, &tree.account);
    for key in ["dir-link/inner.txt", "file-link"] {
        refused_for_a_link(b.head_object(a, &bucket("bkt"), &self::key(key)).await);
        refused_for_a_link(
            b.get_object(a, &bucket("bkt"), &self::key(key), None)
                .await
                .map(|s| s.meta),
        );
        refused_for_a_link(
            b.get_object_tagging(a, &bucket("bkt"), &self::key(key))
                .await,
        );
        refused_for_a_link(
            b.put_object_tagging(a, &bucket("bkt"), &self::key(key), Vec::new())
                .await,
        );
        refused_for_a_link(b.delete_object(a, &bucket("bkt"), &self::key(key)).await);
        let source = b
            .head_object(a, &bucket("bkt"), &self::key("real.txt"))
            .await
            .unwrap();
        refused_for_a_link(
            b.copy_object(
                a,
                (&bucket("bkt"), &self::key(key)),
                &source,
                (&bucket("bkt"), &self::key("copy.txt")),
            )
            .await,
        );
        refused_for_a_link(
            b.copy_object(
                a,
                (&bucket("bkt"), &self::key("real.txt")),
                &source,
                (&bucket("bkt"), &self::key(key)),
            )
            .await,
        );
    }
    let listed = b
        .list_objects(a, &ListRequest::of(bucket("bkt")))
        .await
        .unwrap();
    let keys: Vec<_> = listed.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["real.txt"]);
    assert!(listed.common_prefixes.is_empty());
    assert_eq!(tree.outside(), before, "nothing outside the root changed");
    assert!(
        tree.dir
            .path()
            .join("data/111111111111/bkt/file-link")
            .is_symlink(),
        "a refused delete leaves the link"
    );
}

#[tokio::test]
async fn linked_account_and_bucket_directories_are_refused() {
    let tree = Tree::new();
    std::fs::create_dir_all(tree.dir.path().join("outside/acct/bkt")).unwrap();
    std::fs::write(tree.dir.path().join("outside/acct/bkt/k"), "secret").unwrap();
    tree.link("../outside/acct", "222222222222");
    tree.link("../../outside/acct/bkt", "111111111111/linked");
    let b = &tree.backend;
    let mut other = tree.account.clone();
    other.id = "222222222222".into();
    refused_for_a_link(b.list_buckets(&other).await);
    refused_for_a_link(b.head_object(&other, &bucket("bkt"), &key("k")).await);
    refused_for_a_link(
        b.head_object(&tree.account, &bucket("linked"), &key("k"))
            .await,
    );
    let buckets = b.list_buckets(&tree.account).await.unwrap();
    let names: Vec<_> = buckets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["bkt"], "a linked bucket is not listed");
}

#[test]
fn a_write_through_a_link_is_refused_and_leaves_nothing() {
    let tree = Tree::new();
    tree.link("../../../outside/dir", "111111111111/bkt/dir-link");
    tree.link("../../../outside/secret.txt", "111111111111/bkt/file-link");
    let before = tree.outside();
    for key in ["dir-link/new.txt", "dir-link/inner.txt", "file-link"] {
        let object = tree.object(key);
        let (staged, mut file) = Staged::create(&object.at.root).unwrap();
        file.write_all(b"pwned").unwrap();
        refused_for_a_link(object.install(staged, &file, &Sidecar::default()));
    }
    assert_eq!(tree.outside(), before);
    let tmp = tree.dir.path().join("data/.xacct/tmp");
    assert_eq!(
        std::fs::read_dir(tmp).unwrap().count(),
        0,
        "no temp file is left"
    );
}

#[tokio::test]
async fn links_in_the_backends_own_directories_are_refused() {
    let tree = Tree::new();
    std::fs::create_dir_all(tree.dir.path().join("data/.xacct")).unwrap();
    // Temporary files would be written outside.
    tree.link("../../outside/dir", ".xacct/tmp");
    let object = tree.object("new.txt");
    refused_for_a_link(Staged::create(&object.at.root).map(drop));
    std::fs::remove_file(tree.dir.path().join("data/.xacct/tmp")).unwrap();
    // Sidecars would be read from, and written to, outside.
    std::fs::create_dir_all(tree.dir.path().join("outside/meta/111111111111/bkt")).unwrap();
    let sidecar = Sidecars::name("real.txt");
    std::fs::write(
        tree.dir
            .path()
            .join("outside/meta/111111111111/bkt")
            .join(&sidecar),
        r#"{"content_type":"secret","metadata":[],"tags":[]}"#,
    )
    .unwrap();
    tree.link("../../outside/meta", ".xacct/meta");
    let (b, a) = (&tree.backend, &tree.account);
    refused_for_a_link(b.head_object(a, &bucket("bkt"), &key("real.txt")).await);
    refused_for_a_link(
        b.put_object_tagging(a, &bucket("bkt"), &key("real.txt"), Vec::new())
            .await,
    );
    // A sidecar that is itself a link.
    std::fs::remove_file(tree.dir.path().join("data/.xacct/meta")).unwrap();
    std::fs::create_dir_all(tree.dir.path().join("data/.xacct/meta/111111111111/bkt")).unwrap();
    tree.link(
        &format!("../../../../../outside/meta/111111111111/bkt/{sidecar}"),
        &format!(".xacct/meta/111111111111/bkt/{sidecar}"),
    );
    refused_for_a_link(b.head_object(a, &bucket("bkt"), &key("real.txt")).await);
    refused_for_a_link(
        b.get_object(a, &bucket("bkt"), &key("real.txt"), None)
            .await
            .map(|s| s.meta),
    );
    let tags = vec![Tag {
        key: "k".into(),
        value: "v".into(),
    }];
    refused_for_a_link(
        b.put_object_tagging(a, &bucket("bkt"), &key("real.txt"), tags)
            .await,
    );
    assert_eq!(
        std::fs::read_to_string(
            tree.dir
                .path()
                .join("outside/meta/111111111111/bkt")
                .join(&sidecar)
        )
        .unwrap(),
        r#"{"content_type":"secret","metadata":[],"tags":[]}"#
    );
}

#[test]
fn a_staged_file_is_removed_unless_installed() {
    let tree = Tree::new();
    let object = tree.object("a/b/new.txt");
    let tmp = tree.dir.path().join("data/.xacct/tmp");
    let (staged, _) = Staged::create(&object.at.root).unwrap();
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 1);
    drop(staged);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    let (staged, mut file) = Staged::create(&object.at.root).unwrap();
    file.write_all(b"new").unwrap();
    let stored = object.install(staged, &file, &Sidecar::default()).unwrap();
    assert_eq!(stored.size, 3);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    assert_eq!(object.stat().map(|meta| etag(&meta)).unwrap(), stored.etag);
    object.delete().unwrap();
    assert!(
        !tree.dir.path().join("data/111111111111/bkt/a").exists(),
        "emptied directories are pruned"
    );
}
