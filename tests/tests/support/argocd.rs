//! Runs the chart's Argo CD health check in Lua 5.1, the way Argo CD runs it (gopher-lua is 5.1).

use mlua::serde::SerializeOptions;
use mlua::{Lua, LuaOptions, LuaSerdeExt, StdLib, Table};

/// The health check the chart ships.
pub const HEALTH_LUA: &str = include_str!("../../../charts/slipway/docs/argocd-health.lua");

/// Argo CD's verdict on an object: `(status, message)`.
pub fn health(obj: &serde_json::Value) -> (String, String) {
    // Argo CD opens no io or os library; neither does this interpreter.
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::default(),
    )
    .expect("a Lua interpreter");
    let version: String = lua.globals().get("_VERSION").expect("_VERSION");
    assert_eq!(version, "Lua 5.1", "Argo CD's Lua is 5.1");
    // JSON null becomes nil and arrays plain tables, as in Argo CD.
    let options = SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false)
        .set_array_metatable(false);
    let value = lua.to_value_with(obj, options).expect("obj as a Lua table");
    lua.globals().set("obj", value).expect("set obj");
    let hs: Table = lua
        .load(HEALTH_LUA)
        .set_name("argocd-health.lua")
        .eval()
        .unwrap_or_else(|e| panic!("the health check failed: {e}"));
    (
        hs.get("status").expect("hs.status"),
        hs.get("message").expect("hs.message"),
    )
}
