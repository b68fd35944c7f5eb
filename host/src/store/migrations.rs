//! Versioned schema. Each migration runs once, in its own transaction.
//! Timestamps are Unix seconds (BIGINT); structured fields are JSON text, so
//! the same SQL serves SQLite and PostgreSQL.

/// The migration that adds the ledger, filled from the documents already stored.
pub(super) const LEDGER: i64 = 11;

/// (version, statements) in order. Never edit a released migration: add one.
pub(super) fn migrations(postgres: bool) -> Vec<(i64, Vec<String>)> {
    let serial = if postgres { "BIGSERIAL PRIMARY KEY" } else { "INTEGER PRIMARY KEY AUTOINCREMENT" };
    let mut all = vec![
        (1, split(&init_sql(serial))),
        (2, split(TASKS_SQL)),
        (3, split(&activations_sql(serial))),
        (4, split(&shadows_sql(serial))),
        (5, split(CLAIMS_SQL)),
        (6, split(STRIPE_SQL)),
        (7, split(SCOPES_SQL)),
        (8, split(&outcomes_sql(serial))),
        (9, split(EXPERIMENTS_SQL)),
        (10, split(&alerts_sql(serial))),
        (LEDGER, split(LEDGER_SQL)),
        // Which worker made each decision, for several workers on one database.
        (12, split("ALTER TABLE decisions ADD COLUMN worker TEXT")),
        // The gap between a customer's messages reads only messages sent: a
        // row the tick queues (pending) no longer pays for this index.
        (
            13,
            split(
                "DROP INDEX outbox_customer;
                 CREATE INDEX outbox_customer_sent ON outbox (customer_id, done_at) WHERE state = 'sent'",
            ),
        ),
        // Several workers on one database: an invoice under evaluation is
        // claimed by one worker until a lease runs out, and each decision
        // names the review time it was made for, to be checked as made once.
        // A customer being delivered to is leased to one worker, so two
        // workers never write to one customer at once (gap, weekly cap).
        (
            14,
            split(
                "ALTER TABLE invoices ADD COLUMN review_by TEXT;
                 ALTER TABLE invoices ADD COLUMN review_until BIGINT;
                 ALTER TABLE decisions ADD COLUMN review_at BIGINT;
                 CREATE TABLE customer_leases (customer_id TEXT PRIMARY KEY, worker TEXT NOT NULL, until BIGINT NOT NULL)",
            ),
        ),
        // An uploaded plugin's bytes, for workers on other machines: a file
        // in one worker's plugins folder is not in another's.
        (
            15,
            vec![format!(
                "CREATE TABLE plugin_files (sha256 TEXT PRIMARY KEY, bytes {} NOT NULL)",
                if postgres { "BYTEA" } else { "BLOB" }
            )],
        ),
        (16, reviews(postgres)),
        (17, plugin_ids(postgres)),
        // A closed invoice has no next review, so that the due index alone
        // says what is due. An event after the closing used to set one.
        (18, split("UPDATE reviews SET next_review = NULL WHERE closed IS NOT NULL")),
        // One vocabulary: an import's part payment and a status back to open
        // are the events the API and Stripe record (`crate::event::EventKind`).
        (
            19,
            split(
                "UPDATE events SET kind = 'payment-received' WHERE kind = 'payment-recorded';
                 UPDATE events SET kind = 'reopened' WHERE kind = 'open'",
            ),
        ),
        // What of a policy's answer the host refused outright, kept with the decision.
        (20, split("ALTER TABLE decisions ADD COLUMN refused TEXT")),
        (21, inbound(postgres)),
        // What the reader plugin read a reply to say.
        (22, split("ALTER TABLE inbound ADD COLUMN intent TEXT")),
        // A statement of account someone asked for is a message too: the due
        // messages' index covers its kind, so their read still uses it.
        (
            23,
            split(
                "DROP INDEX outbox_due_messages;
                 CREATE INDEX outbox_due_messages ON outbox (customer_id, id)
                 WHERE state = 'pending' AND kind IN ('remind', 'offer-plan', 'instalment', 'statement')",
            ),
        ),
        (24, bank(postgres)),
        // A customer's page links revoked: those signed before this time open nothing.
        (25, split("CREATE TABLE portal_revocations (customer_id TEXT PRIMARY KEY, before BIGINT NOT NULL)")),
        // The account a credit came from: once it paid a customer's invoice, it names them.
        (26, split("ALTER TABLE bank_entries ADD COLUMN debtor_iban TEXT")),
        // The door each change came through, on its record's line and its
        // outcome: payments by source (bank, Stripe, import, the page), unknown
        // before; when a credit was matched (time from payment to match); and
        // the invoices an unsure credit may pay, for a person to pick from.
        (
            27,
            split(
                "ALTER TABLE events ADD COLUMN door TEXT;
                 ALTER TABLE outcomes ADD COLUMN door TEXT;
                 ALTER TABLE bank_entries ADD COLUMN settled_at BIGINT;
                 UPDATE bank_entries SET settled_at = received_at WHERE state = 'matched';
                 CREATE TABLE bank_candidates (entry_key TEXT NOT NULL, invoice_id TEXT NOT NULL, PRIMARY KEY (entry_key, invoice_id))",
            ),
        ),
    ];
    all.extend(written_less(postgres));
    all
}

/// Storage a tick writes less of.
fn written_less(postgres: bool) -> Vec<(i64, Vec<String>)> {
    vec![
        // A worker's claim on a review rewrites its row (PostgreSQL): with room
        // left on each page the new version stays beside the old one, and the
        // indexes are not touched (a claim of 1,000 at 100,000: 10-13 -> 7-9 ms).
        // SQLite writes rows in place.
        (28, if postgres { split("ALTER TABLE reviews SET (fillfactor = 70)") } else { vec![] }),
        // A message's id is written as it is sent: a queued message no
        // longer pays for an index entry of NULL (a tick queues one per invoice).
        (
            29,
            split(
                "DROP INDEX outbox_message_id;
                 CREATE INDEX outbox_message_id ON outbox (message_id) WHERE message_id IS NOT NULL",
            ),
        ),
    ]
}

/// Bank entries, each once by the bank's own reference, with what it paid.
fn bank(postgres: bool) -> Vec<String> {
    let serial = if postgres { "BIGSERIAL PRIMARY KEY" } else { "INTEGER PRIMARY KEY AUTOINCREMENT" };
    vec![
        "CREATE TABLE bank_entries (
            key TEXT PRIMARY KEY,
            received_at BIGINT NOT NULL,
            booked TEXT,
            credit BIGINT NOT NULL,
            amount BIGINT NOT NULL,
            currency TEXT NOT NULL,
            debtor TEXT,
            remittance TEXT NOT NULL,
            end_to_end TEXT,
            state TEXT NOT NULL,
            evidence TEXT NOT NULL,
            inbound_id BIGINT
        )"
        .to_string(),
        "CREATE INDEX bank_entries_state ON bank_entries (state, received_at)".to_string(),
        format!(
            "CREATE TABLE bank_payments (id {serial}, entry_key TEXT NOT NULL, invoice_id TEXT NOT NULL, amount BIGINT NOT NULL)"
        ),
        "CREATE INDEX bank_payments_entry ON bank_payments (entry_key)".to_string(),
    ]
}

/// What comes back: each message kept once (by digest and Message-ID) with
/// what it was and what it did; the Message-ID each sent email left with, to
/// match what answers it; each customer's address, to match a sender.
fn inbound(postgres: bool) -> Vec<String> {
    let (serial, blob) =
        if postgres { ("BIGSERIAL PRIMARY KEY", "BYTEA") } else { ("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB") };
    let email = if postgres { "lower(data::json->>'email')" } else { "lower(json_extract(data, '$.email'))" };
    vec![
        format!(
            "CREATE TABLE inbound (
                id {serial},
                received_at BIGINT NOT NULL,
                door TEXT NOT NULL,
                digest TEXT NOT NULL UNIQUE,
                message_id TEXT,
                size BIGINT NOT NULL,
                raw {blob} NOT NULL,
                sender TEXT,
                subject TEXT,
                kind TEXT NOT NULL,
                state TEXT NOT NULL,
                reason TEXT NOT NULL,
                customer_id TEXT,
                invoice_id TEXT,
                outbox_id BIGINT,
                text TEXT
            )"
        ),
        // Once by Message-ID too, also for two doors at the same moment (PostgreSQL's
        // transactions do not see each other's inserts).
        "CREATE UNIQUE INDEX inbound_message_id ON inbound (message_id) WHERE message_id IS NOT NULL".into(),
        "CREATE INDEX inbound_state ON inbound (state, id)".into(),
        "CREATE INDEX inbound_sender ON inbound (sender, received_at)".into(),
        "ALTER TABLE outbox ADD COLUMN message_id TEXT".into(),
        // The messages that left for one invoice, which every outcome is tied to
        // (`outcomes::record`): without it SQLite read every sent row of the outbox.
        "CREATE INDEX outbox_invoice_sent ON outbox (invoice_id, done_at) WHERE state = 'sent'".into(),
        "CREATE INDEX outbox_message_id ON outbox (message_id)".into(),
        "ALTER TABLE customers ADD COLUMN email TEXT".into(),
        format!("UPDATE customers SET email = {email}"),
        "CREATE INDEX customers_email ON customers (email)".into(),
    ]
}

/// When each invoice is next reviewed, and who holds its review, in a narrow
/// table of its own: a tick moves every due invoice's review, and in the
/// invoice row that rewrote the whole document (under PostgreSQL's MVCC, a
/// new version of it twice per tick, with the claim).
fn reviews(postgres: bool) -> Vec<String> {
    let mut statements = vec![
        format!(
            "CREATE TABLE reviews (
                invoice_id TEXT PRIMARY KEY REFERENCES invoices(id),
                -- When the policy looks at the invoice again; NULL waits for an event.
                next_review BIGINT,
                closed TEXT,
                review_by TEXT,
                review_until BIGINT
            ){}",
            if postgres { "" } else { " WITHOUT ROWID" }
        ),
        // Only an open invoice has a next review (`events::schedule_review`).
        "INSERT INTO reviews (invoice_id, next_review, closed, review_by, review_until) \
         SELECT id, CASE WHEN status = 'open' THEN next_review END, closed, review_by, review_until FROM invoices"
            .to_string(),
        "CREATE INDEX reviews_due ON reviews (next_review, invoice_id)".to_string(),
        "DROP INDEX invoices_due".to_string(),
    ];
    for column in ["next_review", "closed", "review_by", "review_until"] {
        statements.push(format!("ALTER TABLE invoices DROP COLUMN {column}"));
    }
    statements
}

/// A decision names its plugin by a small id rather than by name, version
/// and sha256 in every row, and keeps the digest of its input as 32 bytes
/// rather than 64 hex characters: a tick writes a decision per invoice.
fn plugin_ids(postgres: bool) -> Vec<String> {
    let (serial, blob) =
        if postgres { ("BIGSERIAL PRIMARY KEY", "BYTEA") } else { ("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB") };
    // A digest that is not hex (none is, but the column never said so) becomes NULL rather than stop the migration.
    let unhex = if postgres {
        "CASE WHEN input_digest ~ '^([0-9a-f]{2})*$' THEN decode(input_digest, 'hex') END"
    } else {
        "unhex(input_digest)"
    };
    let mut statements = vec![
        format!(
            "CREATE TABLE plugin_ids (id {serial}, name TEXT NOT NULL, version TEXT NOT NULL, sha256 TEXT NOT NULL, \
             UNIQUE (name, version, sha256))"
        ),
        "INSERT INTO plugin_ids (name, version, sha256) \
         SELECT DISTINCT plugin_name, plugin_version, plugin_sha256 FROM decisions"
            .to_string(),
        // No foreign key: on PostgreSQL its check locks the plugin's row for
        // every decision inserted (FOR KEY SHARE), and a tick inserts one per
        // invoice, from several workers at once. Plugin ids are never deleted.
        "ALTER TABLE decisions ADD COLUMN plugin BIGINT".to_string(),
        format!("ALTER TABLE decisions ADD COLUMN input_sha256 {blob}"),
        format!(
            "UPDATE decisions SET input_sha256 = {unhex}, plugin = (SELECT p.id FROM plugin_ids p \
             WHERE p.name = decisions.plugin_name AND p.version = decisions.plugin_version \
             AND p.sha256 = decisions.plugin_sha256)"
        ),
    ];
    for column in ["plugin_name", "plugin_version", "plugin_sha256", "input_digest"] {
        statements.push(format!("ALTER TABLE decisions DROP COLUMN {column}"));
    }
    statements
}

const TASKS_SQL: &str = r#"
-- Work for people that an adapter opened (a phone call to make), one per outbox key.
CREATE TABLE tasks (
    key TEXT PRIMARY KEY,
    invoice_id TEXT NOT NULL,
    title TEXT NOT NULL,
    customer TEXT NOT NULL,
    phone TEXT,
    script TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    done_at BIGINT
);
CREATE INDEX tasks_open ON tasks (done_at, opened_at)
"#;

const CLAIMS_SQL: &str = r#"
-- A message is claimed by a worker right before it leaves, until a lease runs
-- out: a stopped worker's messages in flight are what a crash leaves uncertain.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claim_until BIGINT;
-- Keys are encoded injectively from now on; a step that may already have left keeps its old key.
ALTER TABLE outbox ADD COLUMN legacy_key BIGINT NOT NULL DEFAULT 0;
-- Tries that failed on the operator's setup (the relay down): they set the
-- backoff, never the customer's attempts.
ALTER TABLE outbox ADD COLUMN setup_faults BIGINT NOT NULL DEFAULT 0;
UPDATE outbox SET legacy_key = 1;
-- Due messages are read customer by customer, a page at a time.
CREATE INDEX outbox_due_messages ON outbox (customer_id, id)
    WHERE state = 'pending' AND kind IN ('remind', 'offer-plan', 'instalment')
"#;

const SCOPES_SQL: &str = r#"
-- Activations of policies (per segment) and of adapters (per channel) apart:
-- a segment named like a channel can no longer touch one.
ALTER TABLE activations ADD COLUMN scope TEXT NOT NULL DEFAULT 'segment';
UPDATE activations SET scope = 'channel', segment = SUBSTR(segment, 9) WHERE segment LIKE 'channel:%'
"#;

const STRIPE_SQL: &str = r#"
-- Stripe events handled, by id (Stripe delivers one more than once), and per
-- object the time of the newest event applied (it delivers them out of order).
CREATE TABLE stripe_events (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    created BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE TABLE stripe_objects (
    id TEXT PRIMARY KEY,
    newest BIGINT NOT NULL
)
"#;

const EXPERIMENTS_SQL: &str = r#"
-- An experiment between policies on a segment: each customer's arm follows
-- from a hash of (experiment, customer), and every decision records it.
CREATE TABLE experiments (
    name TEXT PRIMARY KEY,
    segment TEXT NOT NULL,
    arms TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    stopped_at BIGINT
);
ALTER TABLE decisions ADD COLUMN experiment TEXT;
ALTER TABLE decisions ADD COLUMN arm TEXT;
CREATE INDEX decisions_experiment ON decisions (experiment, arm)
"#;

const LEDGER_SQL: &str = r#"
-- Each invoice's money and dates, narrow, written with its document: a
-- report ages every receivable, and a list filters them, without reading
-- the documents. Days are counted from 1970-01-01.
CREATE TABLE ledger (
    invoice_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    total BIGINT NOT NULL,
    paid BIGINT NOT NULL,
    issued BIGINT NOT NULL,
    due BIGINT NOT NULL
);
-- The segment of a customer beside its document, for lists filtered by it.
ALTER TABLE customers ADD COLUMN segment TEXT;
-- The subject and text a message went with, as its customer read them.
ALTER TABLE outbox ADD COLUMN rendered TEXT;
CREATE INDEX customers_segment ON customers (segment)
"#;

fn init_sql(serial: &str) -> String {
    format!(
        r#"
CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    -- When the policy looks at the invoice again; NULL waits for an event.
    next_review BIGINT,
    closed TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX invoices_due ON invoices (next_review, id);
CREATE INDEX invoices_customer ON invoices (customer_id);
-- Append-only: what happened to an invoice, from outside or from the host.
CREATE TABLE events (
    id {serial},
    invoice_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX events_invoice ON events (invoice_id, id);
CREATE TABLE decisions (
    id {serial},
    invoice_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    plugin_name TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    plugin_sha256 TEXT NOT NULL,
    input_digest TEXT NOT NULL,
    actions TEXT NOT NULL,
    next_review BIGINT,
    error TEXT
);
CREATE INDEX decisions_invoice ON decisions (invoice_id, id);
-- One row per invoice and step: the unique key is what makes "never twice" hold.
CREATE TABLE outbox (
    id {serial},
    invoice_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    step TEXT NOT NULL,
    kind TEXT NOT NULL,
    channel TEXT,
    template TEXT,
    tone TEXT,
    deadline TEXT,
    payload TEXT NOT NULL,
    decision_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    done_at BIGINT,
    receipt TEXT,
    UNIQUE (invoice_id, step)
);
CREATE INDEX outbox_pending ON outbox (state, not_before, id);
CREATE INDEX outbox_customer ON outbox (customer_id, done_at);
"#
    )
}

fn activations_sql(serial: &str) -> String {
    format!(
        r#"
-- Policies an operator activated for a segment while running; the newest row wins,
-- removing it rolls back to the one before (or to the config).
CREATE TABLE activations (
    id {serial},
    segment TEXT NOT NULL,
    plugin_sha256 TEXT NOT NULL,
    plugin_path TEXT NOT NULL,
    at BIGINT NOT NULL
)
"#
    )
}

fn shadows_sql(serial: &str) -> String {
    format!(
        r#"
-- A candidate policy evaluated beside the active one for a segment; never carried out.
CREATE TABLE shadows (
    segment TEXT PRIMARY KEY,
    plugin_sha256 TEXT NOT NULL,
    plugin_path TEXT NOT NULL,
    started_at BIGINT NOT NULL
);
CREATE TABLE shadow_decisions (
    id {serial},
    invoice_id TEXT NOT NULL,
    segment TEXT NOT NULL,
    at BIGINT NOT NULL,
    plugin_name TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    plugin_sha256 TEXT NOT NULL,
    actions TEXT NOT NULL,
    active_plugin TEXT NOT NULL,
    active_actions TEXT NOT NULL
);
CREATE INDEX shadow_decisions_segment ON shadow_decisions (segment, id)
"#
    )
}

fn outcomes_sql(serial: &str) -> String {
    format!(
        r#"
-- A customer's answer to dunning (a payment, a promise, a dispute, an
-- opt-out) with the last contact before it in the attribution window and the
-- whole path, written with its event: reports query these facts.
CREATE TABLE outcomes (
    id {serial},
    invoice_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    recovered BIGINT NOT NULL,
    currency TEXT NOT NULL,
    touch_step TEXT,
    touch_channel TEXT,
    touch_tone TEXT,
    touch_template TEXT,
    touch_policy TEXT,
    touch_version TEXT,
    touch_arm TEXT,
    after_touch BIGINT,
    path TEXT NOT NULL
);
CREATE INDEX outcomes_at ON outcomes (at)
"#
    )
}

fn alerts_sql(serial: &str) -> String {
    format!(
        r#"
-- What the operator is told (a failed payment, a recovery, a failing policy
-- or relay), written with what caused it and posted, signed, once.
CREATE TABLE alerts (
    id {serial},
    kind TEXT NOT NULL,
    -- What it is about: an invoice, a channel, the tick.
    subject TEXT NOT NULL,
    at BIGINT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    not_before BIGINT NOT NULL,
    reason TEXT
);
CREATE INDEX alerts_pending ON alerts (state, not_before)
"#
    )
}

/// Statements of a script: comments dropped first (they may hold a `;`).
fn split(sql: &str) -> Vec<String> {
    let code: Vec<&str> = sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect();
    code.join("\n").split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}
