//! One module per resource; handler names `<verb>_<resource>` are the operationIds.

pub mod audit;
pub mod auth;
pub mod averages;
pub mod common;
pub mod diary;
pub mod grading;
pub mod health;
pub mod imports;
pub mod integrators;
pub mod journal;
pub mod lessons;
pub mod me;
pub mod meta;
pub mod notifications;
pub mod people;
pub mod reports;
pub mod roster;
pub mod terms;
pub mod timetable;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every route (and so every operation of the document).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::get_liveness)
        .service(health::get_readiness)
        .service(
            utoipa_actix_web::scope("/api/v1")
                .service(meta::get_api_index)
                .service(auth::post_login)
                .service(auth::post_refresh)
                .service(auth::post_logout)
                .service(auth::post_token)
                .service(auth::post_activate)
                .service(me::get_me)
                .service(me::create_link_code)
                .service(me::put_my_language)
                .service(notifications::register_device)
                .service(notifications::list_devices)
                .service(notifications::unregister_device)
                .service(notifications::get_notification_preferences)
                .service(notifications::put_notification_preferences)
                .service(notifications::list_notifications)
                .service(notifications::mark_notifications_read)
                .service(roster::get_student)
                .service(roster::list_class_students)
                .service(roster::move_student)
                .service(journal::create_lesson)
                .service(journal::get_lesson)
                .service(journal::grade_lesson)
                .service(journal::get_grade_history)
                .service(journal::get_grade)
                .service(journal::patch_grade)
                .service(journal::delete_grade)
                .service(journal::put_attendance)
                .service(journal::get_attendance_history)
                .service(lessons::patch_lesson)
                .service(lessons::put_individual_homework)
                .service(lessons::list_my_lessons)
                .service(diary::get_diary)
                .service(averages::get_student_averages)
                .service(averages::get_student_rank)
                .service(averages::get_student_forecast)
                .service(averages::get_final_grades)
                .service(averages::put_final_grades)
                .service(averages::get_class_ranking)
                .service(averages::get_school_ranking)
                .service(diary::get_journal_page)
                .service(timetable::list_class_groups)
                .service(timetable::create_class_group)
                .service(timetable::put_group_members)
                .service(timetable::get_timetable)
                .service(timetable::put_timetable)
                .service(timetable::generate_lessons)
                .service(timetable::list_holidays)
                .service(timetable::create_holiday)
                .service(timetable::delete_holiday)
                .service(people::list_people)
                .service(people::create_people)
                .service(people::get_person)
                .service(people::grant_role)
                .service(people::revoke_role)
                .service(people::issue_activation_code)
                .service(people::link_guardian)
                .service(people::link_guardian_by_code)
                .service(people::unlink_guardian)
                .service(people::list_teaching_assignments)
                .service(people::create_teaching_assignment)
                .service(people::delete_teaching_assignment)
                .service(integrators::register_school_integrator)
                .service(integrators::list_school_integrators)
                .service(integrators::revoke_school_integrator)
                .service(integrators::register_municipality_integrator)
                .service(integrators::list_municipality_integrators)
                .service(integrators::revoke_municipality_integrator)
                .service(grading::get_grading)
                .service(grading::create_grade_scale)
                .service(grading::create_work_type)
                .service(grading::put_grading_rule)
                .service(terms::lock_term)
                .service(terms::unlock_term)
                .service(audit::list_school_audit_events)
                .service(audit::list_municipality_audit_events)
                .service(imports::import_roster)
                .service(reports::get_academic_report)
                .service(reports::get_class_summary)
                .service(reports::get_attendance_report)
                .service(reports::get_activity_report)
                .service(reports::get_municipality_academic_report)
                .service(reports::get_municipality_activity_report)
                .service(reports::export_class_journal),
        );
}
