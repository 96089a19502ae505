//! The S3 capability's action table: every operation of the WIT `s3` interface, the
//! grant action it needs, what it acts on, whether a dry run plans it instead of running
//! it, and the IAM actions it needs. The config's list of grant actions, the gate's
//! checks and the IAM documents (session and permission policies, in the AWS provider)
//! all come from here: adding an operation is one entry.

use std::fmt;

/// What a grant rule allows (`actions = [...]` in an `s3` rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// ListBuckets, and ListObjectsV2 under the rule's prefix.
    List,
    /// HeadObject, GetObject (and the source of a copy).
    Read,
    /// PutObject (and the target of a copy).
    Write,
    /// DeleteObject(s).
    Delete,
    /// Get/PutObjectTagging.
    Tag,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::List,
        Action::Read,
        Action::Write,
        Action::Delete,
        Action::Tag,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::List => "list",
            Action::Read => "read",
            Action::Write => "write",
            Action::Delete => "delete",
            Action::Tag => "tag",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// `list, read, write, delete or tag`: the actions, for a message.
    pub fn names() -> String {
        let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }

    /// The operations this action allows.
    pub fn operations(self) -> impl Iterator<Item = &'static Operation> {
        OPERATIONS
            .iter()
            .copied()
            .filter(move |op| op.action == self)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an operation acts on: where its IAM actions are granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// The account itself (its list of buckets): any resource.
    Account,
    /// A bucket's listing, under the rule's prefix.
    Listing,
    /// Objects under the rule's prefix.
    Object,
}

/// One operation of the WIT `s3` interface.
#[derive(Debug)]
pub struct Operation {
    /// The S3 API's name, as the audit log records it.
    pub name: &'static str,
    /// The grant action it needs (on its bucket or object).
    pub action: Action,
    pub on: On,
    /// Whether it changes anything: a dry run plans it instead of running it.
    pub mutates: bool,
    /// The IAM actions the backend's calls need, in the order IAM documents list them.
    pub iam: &'static [&'static str],
}

pub const LIST_BUCKETS: Operation = Operation {
    name: "ListBuckets",
    action: Action::List,
    on: On::Account,
    mutates: false,
    iam: &["s3:ListAllMyBuckets"],
};
pub const LIST_OBJECTS: Operation = Operation {
    name: "ListObjectsV2",
    action: Action::List,
    on: On::Listing,
    mutates: false,
    iam: &["s3:ListBucket"],
};
pub const HEAD_OBJECT: Operation = Operation {
    name: "HeadObject",
    action: Action::Read,
    on: On::Object,
    mutates: false,
    iam: &["s3:GetObject"],
};
pub const GET_OBJECT: Operation = Operation {
    name: "GetObject",
    action: Action::Read,
    on: On::Object,
    mutates: false,
    iam: &["s3:GetObject"],
};
/// A put is one PutObject, or a multipart upload (whose parts need `s3:PutObject` too)
/// aborted on failure.
pub const PUT_OBJECT: Operation = Operation {
    name: "PutObject",
    action: Action::Write,
    on: On::Object,
    mutates: true,
    iam: &["s3:PutObject", "s3:AbortMultipartUpload"],
};
/// The source is read (a HeadObject, then the copy): `read` on it, `write` on the target.
pub const COPY_OBJECT: Operation = Operation {
    name: "CopyObject",
    action: Action::Write,
    on: On::Object,
    mutates: true,
    iam: &["s3:PutObject"],
};
pub const DELETE_OBJECT: Operation = Operation {
    name: "DeleteObject",
    action: Action::Delete,
    on: On::Object,
    mutates: true,
    iam: &["s3:DeleteObject"],
};
pub const DELETE_OBJECTS: Operation = Operation {
    name: "DeleteObjects",
    action: Action::Delete,
    on: On::Object,
    mutates: true,
    iam: &["s3:DeleteObject"],
};
pub const GET_OBJECT_TAGGING: Operation = Operation {
    name: "GetObjectTagging",
    action: Action::Tag,
    on: On::Object,
    mutates: false,
    iam: &["s3:GetObjectTagging"],
};
/// An empty tag set is a DeleteObjectTagging.
pub const PUT_OBJECT_TAGGING: Operation = Operation {
    name: "PutObjectTagging",
    action: Action::Tag,
    on: On::Object,
    mutates: true,
    iam: &["s3:PutObjectTagging", "s3:DeleteObjectTagging"],
};

/// Every operation, in the order IAM documents list their actions.
pub const OPERATIONS: &[&Operation] = &[
    &LIST_BUCKETS,
    &LIST_OBJECTS,
    &HEAD_OBJECT,
    &GET_OBJECT,
    &PUT_OBJECT,
    &COPY_OBJECT,
    &DELETE_OBJECT,
    &DELETE_OBJECTS,
    &GET_OBJECT_TAGGING,
    &PUT_OBJECT_TAGGING,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_allows_some_operation_and_names_parse_back() {
        for action in Action::ALL {
            assert!(action.operations().next().is_some(), "{action}");
            assert_eq!(Action::parse(action.name()), Some(action));
        }
        assert_eq!(Action::names(), "list, read, write, delete or tag");
    }

    #[test]
    fn operations_are_named_once() {
        for (i, op) in OPERATIONS.iter().enumerate() {
            assert!(
                OPERATIONS[..i].iter().all(|other| other.name != op.name),
                "{}",
                op.name
            );
        }
    }
}
