//! The hand-kept schema, in SQL types both backends share through the MultiConnection
//! (no Bool, Binary or Numeric: flags are nullable timestamps or small integers).

diesel::table! {
    municipalities (id) {
        id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    schools (id) {
        id -> BigInt,
        municipality_id -> BigInt,
        name -> Text,
        external_id -> Nullable<Text>,
        timezone -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    academic_years (id) {
        id -> BigInt,
        school_id -> BigInt,
        name -> Text,
        starts_on -> Date,
        ends_on -> Date,
    }
}

diesel::table! {
    terms (id) {
        id -> BigInt,
        school_id -> BigInt,
        academic_year_id -> BigInt,
        ordinal -> SmallInt,
        name -> Text,
        starts_on -> Date,
        ends_on -> Date,
        locked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    classes (id) {
        id -> BigInt,
        school_id -> BigInt,
        academic_year_id -> BigInt,
        grade_level -> SmallInt,
        letter -> Text,
        external_id -> Nullable<Text>,
    }
}

diesel::table! {
    subjects (id) {
        id -> BigInt,
        school_id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        login -> Text,
        password_hash -> Nullable<Text>,
        display_name -> Text,
        created_at -> Timestamp,
        activated_at -> Nullable<Timestamp>,
        last_login_at -> Nullable<Timestamp>,
        language -> Text,
        grants_version -> BigInt,
    }
}

diesel::table! {
    role_assignments (id) {
        id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        school_id -> Nullable<BigInt>,
        municipality_id -> Nullable<BigInt>,
        class_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    students (id) {
        id -> BigInt,
        school_id -> BigInt,
        user_id -> Nullable<BigInt>,
        last_name -> Text,
        first_name -> Text,
        middle_name -> Nullable<Text>,
        external_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    enrollments (id) {
        id -> BigInt,
        school_id -> BigInt,
        class_id -> BigInt,
        student_id -> BigInt,
        enrolled_on -> Date,
        left_on -> Nullable<Date>,
    }
}

diesel::table! {
    guardianships (id) {
        id -> BigInt,
        school_id -> BigInt,
        parent_user_id -> BigInt,
        student_id -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        session_id -> BigInt,
        token_hash -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_events (id) {
        id -> BigInt,
        user_id -> BigInt,
        logged_in_at -> Timestamp,
    }
}

diesel::table! {
    teaching_assignments (id) {
        id -> BigInt,
        school_id -> BigInt,
        teacher_user_id -> BigInt,
        class_id -> BigInt,
        subject_id -> BigInt,
        created_at -> Timestamp,
        group_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    activation_codes (id) {
        id -> BigInt,
        school_id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    account_link_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        used_by_school_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    integrator_clients (id) {
        id -> BigInt,
        client_id -> Text,
        secret_hash -> Text,
        name -> Text,
        school_id -> Nullable<BigInt>,
        municipality_id -> Nullable<BigInt>,
        scopes -> Text,
        created_by -> BigInt,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        school_id -> Nullable<BigInt>,
        municipality_id -> Nullable<BigInt>,
        actor_user_id -> Nullable<BigInt>,
        action -> Text,
        target_type -> Text,
        target_id -> BigInt,
        details -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    grade_scales (id) {
        id -> BigInt,
        school_id -> BigInt,
        name -> Text,
        kind -> Text,
        min_points -> Nullable<SmallInt>,
        max_points -> Nullable<SmallInt>,
        is_default -> SmallInt,
    }
}

diesel::table! {
    work_types (id) {
        id -> BigInt,
        school_id -> BigInt,
        name -> Text,
        weight -> SmallInt,
    }
}

diesel::table! {
    lessons (id) {
        id -> BigInt,
        school_id -> BigInt,
        class_id -> BigInt,
        subject_id -> BigInt,
        teacher_user_id -> BigInt,
        lesson_date -> Date,
        number -> SmallInt,
        room -> Nullable<Text>,
        topic -> Nullable<Text>,
        homework -> Nullable<Text>,
        comment -> Nullable<Text>,
        held_at -> Nullable<Timestamp>,
        cancelled_at -> Nullable<Timestamp>,
        first_entry_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        group_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    grades (id) {
        id -> BigInt,
        school_id -> BigInt,
        lesson_id -> BigInt,
        student_id -> BigInt,
        work_type_id -> BigInt,
        scale_id -> BigInt,
        value -> Text,
        comment -> Nullable<Text>,
        client_id -> Text,
        version -> Integer,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    grade_events (id) {
        id -> BigInt,
        school_id -> BigInt,
        grade_id -> BigInt,
        version -> Integer,
        action -> Text,
        old_value -> Nullable<Text>,
        new_value -> Nullable<Text>,
        old_comment -> Nullable<Text>,
        new_comment -> Nullable<Text>,
        reason -> Nullable<Text>,
        actor_user_id -> Nullable<BigInt>,
        actor_client_id -> Nullable<BigInt>,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    auth_failures (key_hash) {
        key_hash -> Text,
        failures -> Integer,
        last_failure_at -> Timestamp,
        blocked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idempotency_records (id) {
        id -> BigInt,
        school_id -> BigInt,
        caller -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        status -> SmallInt,
        response_body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    attendance_marks (id) {
        id -> BigInt,
        school_id -> BigInt,
        lesson_id -> BigInt,
        student_id -> BigInt,
        mark -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    attendance_events (id) {
        id -> BigInt,
        school_id -> BigInt,
        lesson_id -> BigInt,
        student_id -> BigInt,
        old_mark -> Nullable<Text>,
        new_mark -> Nullable<Text>,
        reason -> Nullable<Text>,
        actor_user_id -> Nullable<BigInt>,
        actor_client_id -> Nullable<BigInt>,
        occurred_at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(login_events -> users (user_id));
diesel::joinable!(schools -> municipalities (municipality_id));
diesel::joinable!(academic_years -> schools (school_id));
diesel::joinable!(terms -> academic_years (academic_year_id));
diesel::joinable!(classes -> academic_years (academic_year_id));
diesel::joinable!(subjects -> schools (school_id));
diesel::joinable!(role_assignments -> users (user_id));
diesel::joinable!(students -> schools (school_id));
diesel::joinable!(enrollments -> classes (class_id));
diesel::joinable!(enrollments -> students (student_id));
diesel::joinable!(guardianships -> students (student_id));
diesel::joinable!(teaching_assignments -> users (teacher_user_id));
diesel::joinable!(lessons -> classes (class_id));
diesel::joinable!(lessons -> subjects (subject_id));
diesel::joinable!(grades -> lessons (lesson_id));
diesel::joinable!(grades -> students (student_id));
diesel::joinable!(grades -> work_types (work_type_id));
diesel::joinable!(grades -> grade_scales (scale_id));
diesel::joinable!(grade_events -> grades (grade_id));
diesel::joinable!(teaching_assignments -> classes (class_id));
diesel::joinable!(teaching_assignments -> subjects (subject_id));
diesel::joinable!(account_link_codes -> users (user_id));

diesel::table! {
    class_groups (id) {
        id -> BigInt,
        school_id -> BigInt,
        class_id -> BigInt,
        subject_id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    group_members (id) {
        id -> BigInt,
        school_id -> BigInt,
        group_id -> BigInt,
        student_id -> BigInt,
    }
}

diesel::table! {
    holidays (id) {
        id -> BigInt,
        school_id -> BigInt,
        name -> Text,
        starts_on -> Date,
        ends_on -> Date,
        created_at -> Timestamp,
    }
}

diesel::table! {
    timetable_slots (id) {
        id -> BigInt,
        school_id -> BigInt,
        class_id -> BigInt,
        group_id -> Nullable<BigInt>,
        subject_id -> BigInt,
        teacher_user_id -> BigInt,
        weekday -> SmallInt,
        number -> SmallInt,
        weeks -> Text,
        room -> Nullable<Text>,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    generated_lessons (id) {
        id -> BigInt,
        school_id -> BigInt,
        lesson_id -> BigInt,
        slot_id -> BigInt,
        slot_date -> Date,
    }
}

diesel::table! {
    individual_homework (id) {
        id -> BigInt,
        school_id -> BigInt,
        lesson_id -> BigInt,
        student_id -> BigInt,
        homework -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    subject_sums (id) {
        id -> BigInt,
        school_id -> BigInt,
        student_id -> BigInt,
        subject_id -> BigInt,
        term_id -> BigInt,
        weighted -> BigInt,
        weights -> BigInt,
        grade_count -> BigInt,
    }
}

diesel::table! {
    final_grades (id) {
        id -> BigInt,
        school_id -> BigInt,
        student_id -> BigInt,
        subject_id -> BigInt,
        academic_year_id -> BigInt,
        term_id -> Nullable<BigInt>,
        value -> SmallInt,
        set_by -> Nullable<BigInt>,
        set_at -> Timestamp,
    }
}

diesel::table! {
    roster_parents (id) {
        id -> BigInt,
        school_id -> BigInt,
        external_id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::joinable!(group_members -> class_groups (group_id));
diesel::joinable!(timetable_slots -> subjects (subject_id));
diesel::joinable!(individual_homework -> lessons (lesson_id));

diesel::table! {
    devices (id) {
        id -> BigInt,
        user_id -> BigInt,
        session_id -> BigInt,
        token -> Text,
        platform -> Text,
        app -> Text,
        active -> SmallInt,
        deactivated_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notification_preferences (id) {
        id -> BigInt,
        school_id -> BigInt,
        user_id -> BigInt,
        student_id -> BigInt,
        new_grade -> SmallInt,
        changed_grade -> SmallInt,
        attendance -> SmallInt,
        homework -> SmallInt,
        term_grade -> SmallInt,
        quiet_start -> SmallInt,
        quiet_end -> SmallInt,
        quiet_mode -> Text,
        utc_offset_minutes -> SmallInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        school_id -> BigInt,
        event_key -> Text,
        device_id -> BigInt,
        user_id -> BigInt,
        student_id -> BigInt,
        kind -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        fcm_message -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    notification_log (id) {
        id -> BigInt,
        school_id -> BigInt,
        notification_id -> BigInt,
        status -> Text,
        detail -> Nullable<Text>,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    notification_reads (user_id) {
        user_id -> BigInt,
        read_up_to -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(devices -> users (user_id));
diesel::joinable!(devices -> sessions (session_id));
diesel::joinable!(notifications -> devices (device_id));
diesel::joinable!(notification_log -> notifications (notification_id));
diesel::joinable!(notification_reads -> users (user_id));

diesel::table! {
    school_grading_rules (school_id) {
        school_id -> BigInt,
        round_up_from -> SmallInt,
        min_grades -> SmallInt,
        updated_by -> Nullable<BigInt>,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    municipalities,
    schools,
    academic_years,
    terms,
    classes,
    subjects,
    users,
    role_assignments,
    students,
    enrollments,
    guardianships,
    sessions,
    refresh_tokens,
    login_events,
    teaching_assignments,
    activation_codes,
    account_link_codes,
    integrator_clients,
    audit_events,
    grade_scales,
    work_types,
    lessons,
    grades,
    grade_events,
    idempotency_records,
    attendance_marks,
    attendance_events,
    class_groups,
    group_members,
    holidays,
    timetable_slots,
    individual_homework,
    generated_lessons,
    subject_sums,
    final_grades,
    devices,
    notification_preferences,
    notifications,
    notification_log,
    school_grading_rules,
    roster_parents,
    notification_reads,
);
