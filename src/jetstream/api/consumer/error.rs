//! The consumer errors of nats-server 2.15.1's `ApiErrors` table: code, err_code and the exact
//! description. They travel inside [`ApiError::Consumer`](crate::jetstream::api::ApiError) so
//! the stream layer's error enum stays one screen long.
//!
//! Invariant: `Display` is byte-for-byte nats-server's text; a variant with a payload holds
//! exactly what nats-server puts in place of its `{err}`/`{max}`/`{limit}`.

use std::fmt;

/// A refusal of a `CONSUMER.*` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerError {
    /// 10012 (500), a refused update or generic create failure with its reason.
    Create(String),
    /// 10013
    NameExist,
    /// 10017
    DurableNameNotMatchSubject,
    /// 10018
    DurableNameNotSet,
    /// 10020
    EphemeralWithDurableName,
    /// 10079
    DeliverToWildcards,
    /// 10080
    PushMaxWaiting,
    /// 10081
    DeliverCycle,
    /// 10082
    MaxPendingAckPolicyRequired,
    /// 10083
    SmallHeartbeat,
    /// 10084
    PullRequiresAck,
    /// 10086
    PullWithRateLimit,
    /// 10088
    HeartbeatRequiresPush,
    /// 10089
    FlowControlRequiresPush,
    /// 10090
    DirectRequiresPush,
    /// 10091
    DirectRequiresEphemeral,
    /// 10094, a deliver policy / start position conflict.
    InvalidPolicy(String),
    /// 10095, with Go's `strconv` error text (or `<nil>`).
    InvalidSampling(String),
    /// 10098
    WorkQueueRequiresExplicitAck,
    /// 10099
    WorkQueueMultipleUnfiltered,
    /// 10100
    WorkQueueNotUnique,
    /// 10101
    WorkQueueNotDeliverAll,
    /// 10102, with the maximum length.
    NameTooLong(usize),
    /// 10104, a store refusal with its reason.
    StoreFailed(String),
    /// 10107, with the maximum length.
    DescriptionTooLong(usize),
    /// 10108
    FlowControlNeedsHeartbeats,
    /// 10112
    InvalidDeliverSubject,
    /// 10115
    MaxRequestExpiresTooSmall,
    /// 10116
    MaxDeliverBackoff,
    /// 10121, with the limit.
    MaxAckPendingExcess(i64),
    /// 10125, with the limit.
    MaxRequestBatchExceeded(i64),
    /// 10127
    NameContainsPathSeparators,
    /// 10131
    CreateFilterSubjectMismatch,
    /// 10132
    DurableAndNameMismatch,
    /// 10135, with the limit as Go writes it (`128KB`).
    MetadataLength(String),
    /// 10136
    DuplicateFilterSubjects,
    /// 10137
    MultipleFiltersNotAllowed,
    /// 10138
    OverlappingSubjectFilters,
    /// 10139
    EmptyFilter,
    /// 10148
    AlreadyExists,
    /// 10149
    DoesNotExist,
    /// 10153, with the limit as a Go duration (`10s`).
    InactiveThresholdExcess(String),
    /// 10159
    PriorityPolicyWithoutGroup,
    /// 10160
    InvalidPriorityGroup,
    /// 10161
    EmptyGroupName,
    /// 10162
    InvalidGroupName,
    /// 10178
    PushWithPriorityGroup,
    /// 10183
    AckWaitNegative,
    /// 10184
    BackOffNegative,
    /// 10196
    PriorityGroupWithPolicyNone,
    /// 10197
    PinnedTtlWithoutPriorityPolicy,
    /// 10218
    AckFlowControlRequiresPush,
    /// 10219
    AckFlowControlRequiresFlowControl,
    /// 10220
    AckFlowControlRequiresMaxAckPending,
    /// 10221
    AckFlowControlRequiresNoAckWait,
    /// 10222
    AckFlowControlRequiresNoMaxDeliver,
}

impl ConsumerError {
    /// The HTTP-like status.
    pub fn code(&self) -> u16 {
        match self {
            ConsumerError::Create(_) | ConsumerError::StoreFailed(_) => 500,
            _ => 400,
        }
    }

    /// The stable NATS error number.
    pub fn err_code(&self) -> u16 {
        use ConsumerError::*;
        match self {
            Create(_) => 10012,
            NameExist => 10013,
            DurableNameNotMatchSubject => 10017,
            DurableNameNotSet => 10018,
            EphemeralWithDurableName => 10020,
            DeliverToWildcards => 10079,
            PushMaxWaiting => 10080,
            DeliverCycle => 10081,
            MaxPendingAckPolicyRequired => 10082,
            SmallHeartbeat => 10083,
            PullRequiresAck => 10084,
            PullWithRateLimit => 10086,
            HeartbeatRequiresPush => 10088,
            FlowControlRequiresPush => 10089,
            DirectRequiresPush => 10090,
            DirectRequiresEphemeral => 10091,
            InvalidPolicy(_) => 10094,
            InvalidSampling(_) => 10095,
            WorkQueueRequiresExplicitAck => 10098,
            WorkQueueMultipleUnfiltered => 10099,
            WorkQueueNotUnique => 10100,
            WorkQueueNotDeliverAll => 10101,
            NameTooLong(_) => 10102,
            StoreFailed(_) => 10104,
            DescriptionTooLong(_) => 10107,
            FlowControlNeedsHeartbeats => 10108,
            InvalidDeliverSubject => 10112,
            MaxRequestExpiresTooSmall => 10115,
            MaxDeliverBackoff => 10116,
            MaxAckPendingExcess(_) => 10121,
            MaxRequestBatchExceeded(_) => 10125,
            NameContainsPathSeparators => 10127,
            CreateFilterSubjectMismatch => 10131,
            DurableAndNameMismatch => 10132,
            MetadataLength(_) => 10135,
            DuplicateFilterSubjects => 10136,
            MultipleFiltersNotAllowed => 10137,
            OverlappingSubjectFilters => 10138,
            EmptyFilter => 10139,
            AlreadyExists => 10148,
            DoesNotExist => 10149,
            InactiveThresholdExcess(_) => 10153,
            PriorityPolicyWithoutGroup => 10159,
            InvalidPriorityGroup => 10160,
            EmptyGroupName => 10161,
            InvalidGroupName => 10162,
            PushWithPriorityGroup => 10178,
            AckWaitNegative => 10183,
            BackOffNegative => 10184,
            PriorityGroupWithPolicyNone => 10196,
            PinnedTtlWithoutPriorityPolicy => 10197,
            AckFlowControlRequiresPush => 10218,
            AckFlowControlRequiresFlowControl => 10219,
            AckFlowControlRequiresMaxAckPending => 10220,
            AckFlowControlRequiresNoAckWait => 10221,
            AckFlowControlRequiresNoMaxDeliver => 10222,
        }
    }
}

impl fmt::Display for ConsumerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ConsumerError::*;
        let s: &str = match self {
            Create(e) | InvalidPolicy(e) => e,
            NameExist => "consumer name already in use",
            DurableNameNotMatchSubject => {
                "consumer name in subject does not match durable name in request"
            }
            DurableNameNotSet => "consumer expected to be durable but a durable name was not set",
            EphemeralWithDurableName => {
                "consumer expected to be ephemeral but a durable name was set in request"
            }
            DeliverToWildcards => "consumer deliver subject has wildcards",
            PushMaxWaiting => "consumer in push mode can not set max waiting",
            DeliverCycle => "consumer deliver subject forms a cycle",
            MaxPendingAckPolicyRequired => "consumer requires ack policy for max ack pending",
            SmallHeartbeat => "consumer idle heartbeat needs to be >= 100ms",
            PullRequiresAck => {
                "consumer in pull mode requires explicit ack policy on workqueue stream"
            }
            PullWithRateLimit => "consumer in pull mode can not have rate limit set",
            HeartbeatRequiresPush => "consumer idle heartbeat requires a push based consumer",
            FlowControlRequiresPush => "consumer flow control requires a push based consumer",
            DirectRequiresPush => "consumer direct requires a push based consumer",
            DirectRequiresEphemeral => "consumer direct requires an ephemeral consumer",
            InvalidSampling(e) => {
                return write!(f, "failed to parse consumer sampling configuration: {e}")
            }
            WorkQueueRequiresExplicitAck => "workqueue stream requires explicit ack",
            WorkQueueMultipleUnfiltered => {
                "multiple non-filtered consumers not allowed on workqueue stream"
            }
            WorkQueueNotUnique => "filtered consumer not unique on workqueue stream",
            WorkQueueNotDeliverAll => "consumer must be deliver all on workqueue stream",
            NameTooLong(max) => {
                return write!(f, "consumer name is too long, maximum allowed is {max}")
            }
            StoreFailed(e) => return write!(f, "error creating store for consumer: {e}"),
            DescriptionTooLong(max) => {
                return write!(f, "consumer description is too long, maximum allowed is {max}")
            }
            FlowControlNeedsHeartbeats => "consumer with flow control also needs heartbeats",
            InvalidDeliverSubject => "invalid push consumer deliver subject",
            MaxRequestExpiresTooSmall => "consumer max request expires needs to be >= 1ms",
            MaxDeliverBackoff => "max deliver is required to be > length of backoff values",
            MaxAckPendingExcess(l) => {
                return write!(f, "consumer max ack pending exceeds system limit of {l}")
            }
            MaxRequestBatchExceeded(l) => {
                return write!(f, "consumer max request batch exceeds server limit of {l}")
            }
            NameContainsPathSeparators => "Consumer name can not contain path separators",
            CreateFilterSubjectMismatch => {
                "Consumer create request did not match filtered subject from create subject"
            }
            DurableAndNameMismatch => {
                "Consumer Durable and Name have to be equal if both are provided"
            }
            MetadataLength(l) => return write!(f, "consumer metadata exceeds maximum size of {l}"),
            DuplicateFilterSubjects => {
                "consumer cannot have both FilterSubject and FilterSubjects specified"
            }
            MultipleFiltersNotAllowed => {
                "consumer with multiple subject filters cannot use subject based API"
            }
            OverlappingSubjectFilters => "consumer subject filters cannot overlap",
            EmptyFilter => "consumer filter in FilterSubjects cannot be empty",
            AlreadyExists => "consumer already exists",
            DoesNotExist => "consumer does not exist",
            InactiveThresholdExcess(l) => {
                return write!(f, "consumer inactive threshold exceeds system limit of {l}")
            }
            PriorityPolicyWithoutGroup => {
                "Setting PriorityPolicy requires at least one PriorityGroup to be set"
            }
            InvalidPriorityGroup => "Provided priority group does not exist for this consumer",
            EmptyGroupName => "Group name cannot be an empty string",
            InvalidGroupName => {
                "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters"
            }
            PushWithPriorityGroup => "priority groups can not be used with push consumers",
            AckWaitNegative => "consumer ack wait needs to be positive",
            BackOffNegative => "consumer backoff needs to be positive",
            PriorityGroupWithPolicyNone => {
                "consumer can not have priority groups when policy is none"
            }
            PinnedTtlWithoutPriorityPolicy => "PinnedTTL cannot be set when PriorityPolicy is none",
            AckFlowControlRequiresPush => "flow control ack policy requires a push based consumer",
            AckFlowControlRequiresFlowControl => "flow control ack policy requires flow control",
            AckFlowControlRequiresMaxAckPending => {
                "flow control ack policy requires max ack pending"
            }
            AckFlowControlRequiresNoAckWait => "flow control ack policy requires unset ack wait",
            AckFlowControlRequiresNoMaxDeliver => {
                "flow control ack policy requires unset max deliver"
            }
        };
        f.write_str(s)
    }
}

impl std::error::Error for ConsumerError {}
