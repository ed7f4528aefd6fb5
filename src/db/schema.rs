//! Diesel table definitions, written by hand so that both backends share one
//! set of portable types (`BigInt` ids, `Text`, `Bool`, UTC `Timestamp`).
//! Keep in step with `migrations/sqlite` and `migrations/postgres`.

diesel::table! {
    institutions (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        default_plan -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    institution_domains (id) {
        id -> BigInt,
        institution_id -> BigInt,
        domain -> Text,
    }
}

diesel::table! {
    instances (id) {
        id -> BigInt,
        domain -> Text,
        institution_id -> BigInt,
        plan -> Text,
        status -> Text,
        mastodon_version -> Nullable<Text>,
        region -> Nullable<Text>,
        notes -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    contacts (id) {
        id -> BigInt,
        email -> Text,
        name -> Nullable<Text>,
        institution_id -> Nullable<BigInt>,
        is_institution_admin -> Bool,
        blocked -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    agents (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    tickets (id) {
        id -> BigInt,
        number -> BigInt,
        subject -> Text,
        status -> Text,
        priority -> Text,
        category -> Nullable<Text>,
        channel -> Text,
        requester_id -> BigInt,
        institution_id -> Nullable<BigInt>,
        instance_id -> Nullable<BigInt>,
        assignee_id -> Nullable<BigInt>,
        needs_triage -> Bool,
        triage_reason -> Nullable<Text>,
        merged_into_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        first_response_at -> Nullable<Timestamp>,
        last_customer_message_at -> Nullable<Timestamp>,
        solved_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        follow_up_of_id -> Nullable<BigInt>,
        tags -> Text,
    }
}

diesel::table! {
    ticket_tags (ticket_id, tag) {
        ticket_id -> BigInt,
        tag -> Text,
        /// Copies of the ticket's, kept by triggers (never written by Tusk).
        updated_at -> Timestamp,
        status -> Text,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        kind -> Text,
        author_contact_id -> Nullable<BigInt>,
        author_agent_id -> Nullable<BigInt>,
        from_address -> Nullable<Text>,
        to_addresses -> Nullable<Text>,
        cc_addresses -> Nullable<Text>,
        subject -> Nullable<Text>,
        body_text -> Text,
        body_html -> Nullable<Text>,
        body_html_sanitized -> Nullable<Text>,
        message_id -> Text,
        in_reply_to -> Nullable<Text>,
        reference_ids -> Nullable<Text>,
        raw_blob -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        message_id -> BigInt,
        sha256 -> Text,
        filename -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        content_id -> Nullable<Text>,
        inline -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        ticket_id -> Nullable<BigInt>,
        subject_type -> Text,
        subject_id -> BigInt,
        action -> Text,
        actor_kind -> Text,
        actor_id -> Nullable<BigInt>,
        field -> Nullable<Text>,
        old_value -> Nullable<Text>,
        new_value -> Nullable<Text>,
        data -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> BigInt,
        kind -> Text,
        ticket_id -> Nullable<BigInt>,
        message_ref -> Nullable<BigInt>,
        recipients -> Text,
        rfc_message_id -> Text,
        payload -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    search_outbox (id) {
        id -> BigInt,
        entity_type -> Text,
        entity_id -> BigInt,
        op -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    blob_data (sha256) {
        sha256 -> Text,
        size_bytes -> BigInt,
        data -> Binary,
    }
}

diesel::table! {
    inbound_messages (id) {
        id -> BigInt,
        raw_blob -> Text,
        size_bytes -> BigInt,
        source -> Text,
        origin -> Nullable<Text>,
        stable_id -> Nullable<Text>,
        from_address -> Nullable<Text>,
        subject -> Nullable<Text>,
        outcome -> Text,
        reason -> Nullable<Text>,
        ticket_id -> Nullable<BigInt>,
        message_ref -> Nullable<BigInt>,
        trace -> Text,
        attempts -> Integer,
        received_at -> Timestamp,
        processed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    ticket_sla (ticket_id) {
        ticket_id -> BigInt,
        tier -> Text,
        priority -> Text,
        policy -> Text,
        state -> Text,
        first_response_due_at -> Nullable<Timestamp>,
        next_response_due_at -> Nullable<Timestamp>,
        resolution_due_at -> Nullable<Timestamp>,
        next_due_at -> Nullable<Timestamp>,
        next_check_at -> Nullable<Timestamp>,
        first_response_business_secs -> Nullable<BigInt>,
        resolution_business_secs -> Nullable<BigInt>,
        resolution_elapsed_secs -> BigInt,
        paused_secs -> BigInt,
        breached -> Bool,
        applied_at -> Timestamp,
        computed_at -> Timestamp,
        first_response_outcome -> Nullable<Text>,
        resolution_outcome -> Nullable<Text>,
        opened_at -> Nullable<Timestamp>,
        solved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sla_segments (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        metric -> Text,
        cycle -> Integer,
        kind -> Text,
        status -> Nullable<Text>,
        started_at -> Timestamp,
        ended_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sla_notices (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        metric -> Text,
        cycle -> Integer,
        threshold -> Integer,
        due_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    web_sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        principal_kind -> Text,
        principal_id -> BigInt,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> BigInt,
        attempt_key -> Text,
        succeeded -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    report_deliveries (id) {
        id -> BigInt,
        report -> Text,
        period_start -> Timestamp,
        period_end -> Timestamp,
        recipients -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// API tokens (issue 7): only the SHA-256 of the secret is stored.
    api_tokens (id) {
        id -> BigInt,
        name -> Text,
        token_hash -> Text,
        scopes -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Portal sign-in links (issue 7): only the SHA-256 of the token is stored.
    magic_links (id) {
        id -> BigInt,
        token_hash -> Text,
        contact_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(institution_domains -> institutions (institution_id));
diesel::joinable!(instances -> institutions (institution_id));
diesel::joinable!(contacts -> institutions (institution_id));
diesel::joinable!(tickets -> contacts (requester_id));
diesel::joinable!(tickets -> institutions (institution_id));
diesel::joinable!(tickets -> instances (instance_id));
diesel::joinable!(tickets -> agents (assignee_id));
diesel::joinable!(ticket_tags -> tickets (ticket_id));
diesel::joinable!(messages -> tickets (ticket_id));
diesel::joinable!(attachments -> messages (message_id));
diesel::joinable!(events -> tickets (ticket_id));
diesel::joinable!(ticket_sla -> tickets (ticket_id));

diesel::allow_tables_to_appear_in_same_query!(
    magic_links,
    api_tokens,
    institutions,
    institution_domains,
    instances,
    contacts,
    agents,
    counters,
    tickets,
    ticket_tags,
    messages,
    attachments,
    events,
    mail_outbox,
    search_outbox,
    inbound_messages,
    blob_data,
    ticket_sla,
    sla_segments,
    sla_notices,
    web_sessions,
    login_attempts,
    report_deliveries,
);
