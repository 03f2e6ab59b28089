//! The JetStream API errors as nats-server sends them: an HTTP-like `code`, the stable
//! `err_code`, and the exact `description` (clients match on all three, see
//! jetstream-api.md §1.2). Numbers and texts are nats-server 2.15.1's `ApiErrors` table.
//!
//! Invariant: `description()` is byte-for-byte nats-server's text for the same condition, so a
//! variant that carries a reason (`InvalidConfig`, `InvalidJson`, ...) holds exactly the text
//! nats-server puts after the constant part.

use super::consumer::ConsumerError;
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt;

/// One `$JS.API` or publish error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 10002
    AccountResourcesExceeded,
    /// 10003 `bad request`
    BadRequest,
    /// 10014
    ConsumerNotFound,
    /// 10025 `invalid JSON: <reason>`
    InvalidJson(String),
    /// 10026
    MaximumConsumersLimit,
    /// 10027
    MaximumStreamsLimit,
    /// 10028
    MemoryResourcesExceeded,
    /// 10031
    MirrorWithSources,
    /// 10034
    MirrorWithSubjects,
    /// 10037 `no message found`
    NoMessageFound,
    /// 10038 `expected an empty request payload`
    NotEmptyRequest,
    /// 10039
    NotEnabledForAccount,
    /// 10043 `sequence <n> not found`
    SequenceNotFound(u64),
    /// 10047
    StorageResourcesExceeded,
    /// 10049, generic create failure with the store's reason.
    StreamCreate(String),
    /// 10051, generic failure with a reason.
    StreamGeneral(String),
    /// 10052, an invalid stream configuration with nats-server's reason.
    InvalidConfig(String),
    /// 10053, a limit hit with a reason.
    StreamLimits(String),
    /// 10054
    MessageExceedsMaximum,
    /// 10055
    MirrorNotUpdatable,
    /// 10056
    StreamMismatch,
    /// 10057, message delete failure with a reason.
    MsgDeleteFailed(String),
    /// 10058
    StreamNameExist,
    /// 10059
    StreamNotFound,
    /// 10060 `expected stream does not match`
    ExpectedStreamMismatch,
    /// 10065
    SubjectOverlap,
    /// 10069, generic update failure with a reason.
    StreamUpdate(String),
    /// 10070 `wrong last msg ID: <id>`
    WrongLastMsgId(String),
    /// 10071 `wrong last sequence: <n>`
    WrongLastSequence(u64),
    /// 10074
    ReplicasNotSupported,
    /// 10077 (503), a store refusal such as `maximum messages exceeded` under discard new.
    StoreFailed(String),
    /// 10109
    Sealed,
    /// 10110, purge refusal with a reason (`stream purge not permitted`).
    PurgeFailed(String),
    /// 10111, rollup refusal with a reason.
    RollupFailed(String),
    /// 10113
    MaxBytesRequired,
    /// 10122
    MaxStreamBytesExceeded,
    /// 10128
    NameContainsPathSeparators,
    /// 10133
    ReplicasCountNegative,
    /// 10140
    SourceDuplicateDetected,
    /// 10141
    SourceInvalidStreamName,
    /// 10142
    MirrorInvalidStreamName,
    /// 10143
    MirrorWithFirstSeq,
    /// 10030
    MirrorMaxMessageSizeTooBig,
    /// 10046
    SourceMaxMessageSizeTooBig,
    /// 10144
    SourceMultipleFiltersNotAllowed,
    /// 10145 `source transform source: <reason>`
    SourceInvalidSubjectFilter(String),
    /// 10146 `source transform: <reason>`
    SourceInvalidTransformDestination(String),
    /// 10147
    SourceOverlappingSubjectFilters,
    /// 10150
    MirrorMultipleFiltersNotAllowed,
    /// 10151 `mirror transform source: <reason>`
    MirrorInvalidSubjectFilter(String),
    /// 10152
    MirrorOverlappingSubjectFilters,
    /// 10154 `mirror transform: <reason>`
    MirrorInvalidTransformDestination(String),
    /// 10173
    MirrorWithCounters,
    /// 10186
    MirrorWithMsgSchedules,
    /// 10187
    SourceWithMsgSchedules,
    /// 10198
    MirrorWithAtomicPublish,
    /// 10209
    MirrorWithBatchPublish,
    /// 10155 `stream transform source: <reason>`
    TransformInvalidSource(String),
    /// 10156 `stream transform: <reason>`
    TransformInvalidDestination(String),
    /// 10157 `pedantic mode: <reason>`: pedantic refused what it would otherwise adjust.
    Pedantic(String),
    /// 10165
    MessageTtlInvalid,
    /// 10166
    MessageTtlDisabled,
    /// 10185 (412)
    RequiredApiLevel,
    /// 10193
    ExpectedLastSeqPerSubjectInvalid,
    /// 10227: a client published with `Nats-Stream-Source` (only copies carry it).
    /// 10188..10223: a `Nats-Schedule` publish nats-server refuses (`jetstream/schedules.rs`).
    MessageSchedules(ScheduleError),
    MessageSourceHdrNotAllowed,
    /// 10168: `Nats-Incr` on a stream without `allow_msg_counter`.
    MessageIncrDisabled,
    /// 10169: a publish to a counter stream without `Nats-Incr`.
    MessageIncrMissing,
    /// 10170: a counter increment with a payload.
    MessageIncrPayload,
    /// 10171: `Nats-Incr` not a decimal integer, or with a header counters refuse.
    MessageIncrInvalid,
    /// 10172: the subject's last message is not a counter value.
    MessageCounterBroken,
    /// 10164 `wrong last sequence`: an expectation a batch cannot meet (on a subject the
    /// batch already wrote, or a last sequence after the batch's first message).
    WrongLastSequenceConstant,
    /// 10174
    AtomicPublishDisabled,
    /// 10175
    AtomicPublishMissingSeq,
    /// 10176
    AtomicPublishIncompleteBatch,
    /// 10177 `atomic publish unsupported header used: <header>`
    AtomicPublishUnsupportedHeader(String),
    /// 10179
    AtomicPublishInvalidBatchId,
    /// 10199 `atomic publish batch is too large: <max>`
    AtomicPublishTooLargeBatch(u64),
    /// 10200
    AtomicPublishInvalidBatchCommit,
    /// 10201
    AtomicPublishContainsDuplicateMessage,
    /// 10210 (429)
    AtomicPublishTooManyInflight,
    /// 10205: a fast batch publish (reply ending `.$FI`) to a stream without `allow_batched`.
    BatchPublishDisabled,
    /// A consumer-specific refusal (its own code, number and text).
    Consumer(ConsumerError),
}

impl From<ConsumerError> for ApiError {
    fn from(e: ConsumerError) -> Self {
        ApiError::Consumer(e)
    }
}

impl ApiError {
    /// The HTTP-like status.
    pub fn code(&self) -> u16 {
        use ApiError::*;
        match self {
            ConsumerNotFound | NoMessageFound | StreamNotFound => 404,
            MemoryResourcesExceeded
            | StorageResourcesExceeded
            | StreamCreate(_)
            | StreamGeneral(_)
            | InvalidConfig(_)
            | StreamLimits(_)
            | MsgDeleteFailed(_)
            | StreamUpdate(_)
            | ReplicasNotSupported
            | PurgeFailed(_)
            | RollupFailed(_) => 500,
            NotEnabledForAccount | StoreFailed(_) => 503,
            RequiredApiLevel => 412,
            AtomicPublishTooManyInflight => 429,
            Consumer(e) => e.code(),
            _ => 400,
        }
    }

    /// The stable NATS error number.
    pub fn err_code(&self) -> u16 {
        use ApiError::*;
        match self {
            AccountResourcesExceeded => 10002,
            BadRequest => 10003,
            ConsumerNotFound => 10014,
            InvalidJson(_) => 10025,
            MaximumConsumersLimit => 10026,
            MaximumStreamsLimit => 10027,
            MemoryResourcesExceeded => 10028,
            MirrorWithSources => 10031,
            MirrorWithSubjects => 10034,
            NoMessageFound => 10037,
            NotEmptyRequest => 10038,
            NotEnabledForAccount => 10039,
            SequenceNotFound(_) => 10043,
            StorageResourcesExceeded => 10047,
            StreamCreate(_) => 10049,
            StreamGeneral(_) => 10051,
            InvalidConfig(_) => 10052,
            StreamLimits(_) => 10053,
            MessageExceedsMaximum => 10054,
            MirrorNotUpdatable => 10055,
            StreamMismatch => 10056,
            MsgDeleteFailed(_) => 10057,
            StreamNameExist => 10058,
            StreamNotFound => 10059,
            ExpectedStreamMismatch => 10060,
            SubjectOverlap => 10065,
            StreamUpdate(_) => 10069,
            WrongLastMsgId(_) => 10070,
            WrongLastSequence(_) => 10071,
            ReplicasNotSupported => 10074,
            StoreFailed(_) => 10077,
            Sealed => 10109,
            PurgeFailed(_) => 10110,
            RollupFailed(_) => 10111,
            MaxBytesRequired => 10113,
            MaxStreamBytesExceeded => 10122,
            NameContainsPathSeparators => 10128,
            ReplicasCountNegative => 10133,
            SourceDuplicateDetected => 10140,
            SourceInvalidStreamName => 10141,
            MirrorInvalidStreamName => 10142,
            MirrorWithFirstSeq => 10143,
            MirrorMaxMessageSizeTooBig => 10030,
            SourceMaxMessageSizeTooBig => 10046,
            SourceMultipleFiltersNotAllowed => 10144,
            SourceInvalidSubjectFilter(_) => 10145,
            SourceInvalidTransformDestination(_) => 10146,
            SourceOverlappingSubjectFilters => 10147,
            MirrorMultipleFiltersNotAllowed => 10150,
            MirrorInvalidSubjectFilter(_) => 10151,
            MirrorOverlappingSubjectFilters => 10152,
            MirrorInvalidTransformDestination(_) => 10154,
            MirrorWithCounters => 10173,
            MirrorWithMsgSchedules => 10186,
            SourceWithMsgSchedules => 10187,
            MirrorWithAtomicPublish => 10198,
            MirrorWithBatchPublish => 10209,
            TransformInvalidSource(_) => 10155,
            TransformInvalidDestination(_) => 10156,
            Pedantic(_) => 10157,
            MessageTtlInvalid => 10165,
            MessageTtlDisabled => 10166,
            RequiredApiLevel => 10185,
            ExpectedLastSeqPerSubjectInvalid => 10193,
            MessageSourceHdrNotAllowed => 10227,
            MessageSchedules(e) => e.err_code(),
            MessageIncrDisabled => 10168,
            MessageIncrMissing => 10169,
            MessageIncrPayload => 10170,
            MessageIncrInvalid => 10171,
            MessageCounterBroken => 10172,
            WrongLastSequenceConstant => 10164,
            AtomicPublishDisabled => 10174,
            AtomicPublishMissingSeq => 10175,
            AtomicPublishIncompleteBatch => 10176,
            AtomicPublishUnsupportedHeader(_) => 10177,
            AtomicPublishInvalidBatchId => 10179,
            AtomicPublishTooLargeBatch(_) => 10199,
            AtomicPublishInvalidBatchCommit => 10200,
            AtomicPublishContainsDuplicateMessage => 10201,
            AtomicPublishTooManyInflight => 10210,
            BatchPublishDisabled => 10205,
            Consumer(e) => e.err_code(),
        }
    }

    /// nats-server's exact text.
    pub fn description(&self) -> String {
        self.to_string()
    }

    /// `maximum messages exceeded`, the discard-new refusal of a store at `max_msgs`.
    pub fn max_msgs_exceeded() -> Self {
        ApiError::StoreFailed("maximum messages exceeded".into())
    }

    /// `maximum bytes exceeded`, the discard-new refusal at `max_bytes`.
    pub fn max_bytes_exceeded() -> Self {
        ApiError::StoreFailed("maximum bytes exceeded".into())
    }

    /// `maximum messages per subject exceeded`, discard-new-per-subject at its limit.
    pub fn max_msgs_per_subject_exceeded() -> Self {
        ApiError::StoreFailed("maximum messages per subject exceeded".into())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ApiError::*;
        let s: &str = match self {
            AccountResourcesExceeded => "resource limits exceeded for account",
            BadRequest => "bad request",
            ConsumerNotFound => "consumer not found",
            InvalidJson(e) => return write!(f, "invalid JSON: {e}"),
            MaximumConsumersLimit => "maximum consumers limit reached",
            MaximumStreamsLimit => "maximum number of streams reached",
            MemoryResourcesExceeded => "insufficient memory resources available",
            MirrorWithSources => "stream mirrors can not also contain other sources",
            MirrorWithSubjects => "stream mirrors can not contain subjects",
            NoMessageFound => "no message found",
            NotEmptyRequest => "expected an empty request payload",
            NotEnabledForAccount => "JetStream not enabled for account",
            SequenceNotFound(n) => return write!(f, "sequence {n} not found"),
            StorageResourcesExceeded => "insufficient storage resources available",
            StreamCreate(e) | StreamGeneral(e) | InvalidConfig(e) | StreamLimits(e)
            | MsgDeleteFailed(e) | StreamUpdate(e) | StoreFailed(e) | PurgeFailed(e)
            | RollupFailed(e) => e,
            MessageExceedsMaximum => "message size exceeds maximum allowed",
            MirrorNotUpdatable => "stream mirror configuration can not be updated",
            StreamMismatch => "stream name in subject does not match request",
            StreamNameExist => "stream name already in use with a different configuration",
            StreamNotFound => "stream not found",
            ExpectedStreamMismatch => "expected stream does not match",
            SubjectOverlap => "subjects overlap with an existing stream",
            WrongLastMsgId(id) => return write!(f, "wrong last msg ID: {id}"),
            WrongLastSequence(n) => return write!(f, "wrong last sequence: {n}"),
            ReplicasNotSupported => "replicas > 1 not supported in non-clustered mode",
            Sealed => "invalid operation on sealed stream",
            MaxBytesRequired => "account requires a stream config to have max bytes set",
            MaxStreamBytesExceeded => "stream max bytes exceeds account limit max stream bytes",
            NameContainsPathSeparators => "Stream name can not contain path separators",
            ReplicasCountNegative => "replicas count cannot be negative",
            SourceDuplicateDetected => "duplicate source configuration detected",
            SourceInvalidStreamName => "sourced stream name is invalid",
            MirrorInvalidStreamName => "mirrored stream name is invalid",
            MirrorWithFirstSeq => "stream mirrors can not have first sequence configured",
            MirrorMaxMessageSizeTooBig => "stream mirror must have max message size >= source",
            SourceMaxMessageSizeTooBig => "stream source must have max message size >= target",
            SourceMultipleFiltersNotAllowed => {
                "source with multiple subject transforms cannot also have a single subject filter"
            }
            SourceInvalidSubjectFilter(e) => return write!(f, "source transform source: {e}"),
            SourceInvalidTransformDestination(e) => return write!(f, "source transform: {e}"),
            SourceOverlappingSubjectFilters => "source filters can not overlap",
            MirrorMultipleFiltersNotAllowed => {
                "mirror with multiple subject transforms cannot also have a single subject filter"
            }
            MirrorInvalidSubjectFilter(e) => return write!(f, "mirror transform source: {e}"),
            MirrorOverlappingSubjectFilters => "mirror subject filters can not overlap",
            MirrorInvalidTransformDestination(e) => return write!(f, "mirror transform: {e}"),
            MirrorWithCounters => "stream mirrors can not also calculate counters",
            MirrorWithMsgSchedules => "stream mirrors can not also schedule messages",
            SourceWithMsgSchedules => "stream source can not also schedule messages",
            MirrorWithAtomicPublish => "stream mirrors can not also use atomic publishing",
            MirrorWithBatchPublish => "stream mirrors can not also use batch publishing",
            TransformInvalidSource(e) => return write!(f, "stream transform source: {e}"),
            TransformInvalidDestination(e) => return write!(f, "stream transform: {e}"),
            Pedantic(e) => return write!(f, "pedantic mode: {e}"),
            MessageTtlInvalid => "invalid per-message TTL",
            MessageTtlDisabled => "per-message TTL is disabled",
            RequiredApiLevel => "JetStream minimum api level required",
            ExpectedLastSeqPerSubjectInvalid => {
                "missing sequence for expected last sequence per subject"
            }
            MessageSourceHdrNotAllowed => "message stream source header is not allowed",
            MessageSchedules(e) => e.description(),
            MessageIncrDisabled => "message counters is disabled",
            MessageIncrMissing => "message counter increment is missing",
            MessageIncrPayload => "message counter has payload",
            MessageIncrInvalid => "message counter increment is invalid",
            MessageCounterBroken => "message counter is broken",
            WrongLastSequenceConstant => "wrong last sequence",
            AtomicPublishDisabled => "atomic publish is disabled",
            AtomicPublishMissingSeq => "atomic publish sequence is missing",
            AtomicPublishIncompleteBatch => "atomic publish batch is incomplete",
            AtomicPublishUnsupportedHeader(h) => {
                return write!(f, "atomic publish unsupported header used: {h}")
            }
            AtomicPublishInvalidBatchId => "atomic publish batch ID is invalid",
            AtomicPublishTooLargeBatch(n) => {
                return write!(f, "atomic publish batch is too large: {n}")
            }
            AtomicPublishInvalidBatchCommit => "atomic publish batch commit is invalid",
            AtomicPublishContainsDuplicateMessage => {
                "atomic publish batch contains duplicate message id"
            }
            AtomicPublishTooManyInflight => "atomic publish too many inflight",
            BatchPublishDisabled => "batch publish is disabled",
            Consumer(e) => return e.fmt(f),
        };
        f.write_str(s)
    }
}

impl std::error::Error for ApiError {}

/// Serialises as nats-server's `{"code":..,"err_code":..,"description":..}`.
impl Serialize for ApiError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("code", &self.code())?;
        m.serialize_entry("err_code", &self.err_code())?;
        m.serialize_entry("description", &self.description())?;
        m.end()
    }
}

/// The message-schedule refusals of a publish, nats-server 2.15.1's codes and texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleError {
    /// 10188: a schedule header on a stream without `allow_msg_schedules`.
    Disabled,
    /// 10189: `Nats-Schedule` does not parse.
    PatternInvalid,
    /// 10190: `Nats-Schedule-Target` missing, not a literal subject, the schedule's own
    /// subject, or outside the stream's subjects.
    TargetInvalid,
    /// 10191: `Nats-Schedule-TTL` does not parse.
    TtlInvalid,
    /// 10192: `Nats-Schedule-Rollup` or `Nats-Rollup` other than `sub`.
    RollupInvalid,
    /// 10203: `Nats-Schedule-Source` invalid, the target, the own subject, or outside.
    SourceInvalid,
    /// 10212: `Nats-Scheduler` / `Nats-Schedule-Next` as a client may not send them.
    SchedulerInvalid,
    /// 10223: `Nats-Schedule-Time-Zone` empty or unknown.
    TimeZoneInvalid,
}

impl ScheduleError {
    pub fn err_code(self) -> u16 {
        match self {
            ScheduleError::Disabled => 10188,
            ScheduleError::PatternInvalid => 10189,
            ScheduleError::TargetInvalid => 10190,
            ScheduleError::TtlInvalid => 10191,
            ScheduleError::RollupInvalid => 10192,
            ScheduleError::SourceInvalid => 10203,
            ScheduleError::SchedulerInvalid => 10212,
            ScheduleError::TimeZoneInvalid => 10223,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            ScheduleError::Disabled => "message schedules is disabled",
            ScheduleError::PatternInvalid => "message schedules pattern is invalid",
            ScheduleError::TargetInvalid => "message schedules target is invalid",
            ScheduleError::TtlInvalid => "message schedules invalid per-message TTL",
            ScheduleError::RollupInvalid => "message schedules invalid rollup",
            ScheduleError::SourceInvalid => "message schedules source is invalid",
            ScheduleError::SchedulerInvalid => "message schedules invalid scheduler",
            ScheduleError::TimeZoneInvalid => "message schedules time zone is invalid",
        }
    }
}
