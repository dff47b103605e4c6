//! Window approval grants (即审即办 / 首席代表): an administrator gives a window clerk the
//! power to approve at the window for a department, and takes it back. Page forms on the
//! account's page and the API share the two operations below.

use crate::context::{ApiUser, PageUser, Principal};
use crate::error::{ApiResult, AppError, PageResult};
use crate::form::FormData;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use onewindow_domain::access::{check_window_grant, Permission};
use onewindow_store::grants::{self, Grant};
use onewindow_store::{orgs, users};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users/{id}/window-grants", post(grant_form))
        .route(
            "/admin/users/{id}/window-grants/{department}/revoke",
            post(revoke_form),
        )
        .route("/api/v1/users/{id}/window-grants", get(list_api))
        .route(
            "/api/v1/users/{id}/window-grants/{department}",
            put(grant_api).delete(revoke_api),
        )
}

// ---- operations ----

/// The grants of an account the caller may see.
pub async fn of_user(
    state: &AppState,
    p: &Principal,
    user_id: i64,
) -> Result<Vec<Grant>, AppError> {
    let user = crate::users::get_one(state, p, user_id).await?;
    let mut conn = state.store.reader().acquire().await?;
    Ok(grants::of_user(&mut conn, user.id).await?)
}

/// Grants `user_id` the power to approve at the window for `department_id`. Returns whether
/// it is new (granting twice changes nothing).
pub async fn grant(
    state: &AppState,
    p: &Principal,
    user_id: i64,
    department_id: i64,
) -> Result<bool, AppError> {
    p.require(Permission::ManageUsers)?;
    let mut tx = state.store.begin().await?;
    let user = users::get(&mut tx, user_id).await?;
    p.authorize_visible(Permission::ManageUsers, &user.org_path)?;
    let department = match orgs::get(&mut *tx, department_id).await {
        Ok(d) => d,
        Err(onewindow_store::StoreError::NotFound) => {
            return Err(AppError::invalid(
                "department_id",
                "not_found",
                "部门不存在",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    // A department outside the caller's scope is theirs to grant no more than to see.
    if p.authorize(Permission::ManageUsers, &department.path)
        .is_err()
    {
        return Err(AppError::invalid(
            "department_id",
            "outside_scope",
            "该部门不在您的管理范围内",
        ));
    }
    check_window_grant(&user.roles, department.kind)
        .map_err(|r| AppError::invalid(r.field(), r.code(), r.to_string()))?;
    let change = state.change(p.user.who());
    let added = grants::grant(
        &mut tx,
        &change,
        (user.id, &user.username),
        (department.id, &department.name),
    )
    .await?;
    tx.commit().await?;
    Ok(added)
}

pub async fn revoke(
    state: &AppState,
    p: &Principal,
    user_id: i64,
    department_id: i64,
) -> Result<(), AppError> {
    p.require(Permission::ManageUsers)?;
    let mut tx = state.store.begin().await?;
    let user = users::get(&mut tx, user_id).await?;
    p.authorize_visible(Permission::ManageUsers, &user.org_path)?;
    let change = state.change(p.user.who());
    grants::revoke(&mut tx, &change, (user.id, &user.username), department_id).await?;
    tx.commit().await?;
    Ok(())
}

// ---- pages ----

async fn grant_form(
    State(state): State<AppState>,
    PageUser(p, ctx): PageUser,
    Path(id): Path<i64>,
    form: FormData,
) -> PageResult {
    let attempt = async {
        let department = form.int("department_id", "部门")?;
        grant(&state, &p, id, department).await
    };
    match attempt.await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/users/{id}#window-grants")).into_response()),
        Err(AppError::Invalid(f)) => crate::users::edit_view(&state, &p, &ctx, id, f.0).await,
        Err(e) => Err(e.into()),
    }
}

async fn revoke_form(
    State(state): State<AppState>,
    PageUser(p, _ctx): PageUser,
    Path((id, department)): Path<(i64, i64)>,
) -> PageResult {
    revoke(&state, &p, id, department).await?;
    Ok(Redirect::to(&format!("/admin/users/{id}#window-grants")).into_response())
}

// ---- API ----

async fn list_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Grant>>> {
    Ok(Json(of_user(&state, &p, id).await?))
}

async fn grant_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path((id, department)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    Ok(if grant(&state, &p, id, department).await? {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

async fn revoke_api(
    State(state): State<AppState>,
    ApiUser(p): ApiUser,
    Path((id, department)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    revoke(&state, &p, id, department).await?;
    Ok(StatusCode::NO_CONTENT)
}
