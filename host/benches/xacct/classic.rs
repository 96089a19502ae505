//! The baseline the fan-out benchmarks measure xacct against: the classic Lambda
//! handler, and the latency a request to AWS from another region sees.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;

use crate::common::moto::{self, Home, Moto, ROLE};
use xacct::bindings::Account;

pub(crate) fn account(id: &str) -> Account {
    Account {
        id: id.to_owned(),
        alias: id.to_owned(),
        region: "us-east-1".to_owned(),
        tags: Vec::new(),
    }
}

pub(crate) async fn sdk_config(endpoint: &str, credentials: Credentials) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .load()
        .await
}

pub(crate) fn home_credentials(home: &Home) -> Credentials {
    Credentials::new(
        &home.access_key_id,
        &home.secret_access_key,
        None,
        None,
        "bench",
    )
}

/// What the classic Lambda handler does for one account: a new STS client, AssumeRole,
/// a new S3 client from the returned keys, then the calls.
pub(crate) async fn classic_handler(home: &aws_config::SdkConfig, account: &str) -> usize {
    let sts = aws_sdk_sts::Client::new(home);
    let assumed = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/{ROLE}"))
        .role_session_name("classic-handler")
        .send()
        .await
        .unwrap();
    let credentials = moto::assumed_credentials(&assumed);
    let config = aws_sdk_s3::config::Builder::from(home)
        .credentials_provider(credentials)
        .force_path_style(true)
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(config);
    let buckets = s3.list_buckets().send().await.unwrap();
    let bucket = buckets.buckets()[0].name().unwrap().to_owned();
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let key = listed.contents()[0].key().unwrap().to_owned();
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    object.body.collect().await.unwrap().into_bytes().len()
}

/// Latency the fan-out benchmark adds each way, as a request to AWS from another region
/// would see; moto alone answers in a few milliseconds.
pub(crate) const ONE_WAY_LATENCY: Duration = Duration::from_millis(10);

/// Puts `body` as `key` into the bucket `bucket(i)` of the i-th of `ids`, as that account
/// (before IAM is enforced).
pub(crate) async fn put_in_each(
    moto: &Moto,
    ids: &[String],
    bucket: impl Fn(usize) -> String,
    key: &str,
    body: &[u8],
) {
    for (i, id) in ids.iter().enumerate() {
        moto.s3_in(id)
            .await
            .put_object()
            .bucket(bucket(i))
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap();
    }
}

/// A proxy in front of `moto` adding [`ONE_WAY_LATENCY`] each way: its endpoint, and its
/// task (abort it to stop the proxy).
pub(crate) async fn behind_latency(moto: &Moto) -> (String, tokio::task::JoinHandle<()>) {
    let moto_address: std::net::SocketAddr =
        moto.endpoint.trim_start_matches("http://").parse().unwrap();
    let (proxy, task) = latency_proxy(moto_address, ONE_WAY_LATENCY).await;
    (format!("http://{proxy}"), task)
}

pub(crate) async fn latency_proxy(
    upstream: std::net::SocketAddr,
    delay: Duration,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    async fn pump(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        delay: Duration,
    ) {
        let mut buffer = vec![0; 64 << 10];
        while let Ok(n @ 1..) = from.read(&mut buffer).await {
            tokio::time::sleep(delay).await;
            if to.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((client, _)) = listener.accept().await {
            connections.spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let ((client_read, client_write), (server_read, server_write)) =
                    (client.into_split(), server.into_split());
                tokio::join!(
                    pump(client_read, server_write, delay),
                    pump(server_read, client_write, delay)
                );
            });
        }
    });
    (address, task)
}
