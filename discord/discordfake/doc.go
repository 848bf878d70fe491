// Package discordfake is a fake Discord that speaks Discord's documented wire
// protocol on 127.0.0.1, for tests of agentorg's Discord bot and for
// `agentorg demo --discord`.
//
// It serves the REST API under /api/v9, /api/v10 and (for webhooks, as in
// Discord's documented webhook URLs) /api, exactly at Discord's paths, so a
// client such as github.com/bwmarrin/discordgo can be pointed at it by
// rewriting https://discord.com to [Fake.URL]. It serves the gateway as a
// websocket at /gateway (the URL GET /api/v9/gateway returns).
//
// What it fakes:
//   - one bot user, one application, one guild with text channels, members
//     and an @everyone role carrying the bot's permissions;
//   - the gateway: HELLO, IDENTIFY (close 4004 on a wrong token), READY,
//     GUILD_CREATE, heartbeats and their ACKs, RESUME with replay of the
//     dispatches a session missed, INVALID_SESSION, and INTERACTION_CREATE
//     dispatches for button clicks, slash commands and modal submits
//     ([Fake.Click], [Fake.Slash], [Fake.Submit]);
//   - channel messages (create with nonce/enforce_nonce deduplication, edit,
//     get, list, delete) with Discord's size limits and error bodies;
//   - interaction callbacks (types 4, 5, 6, 7 and 9) with the 3 second
//     deadline, "already acknowledged" errors, @original edits and follow-ups;
//   - incoming webhooks, including ?wait=true and the Slack-compatible form;
//   - application command bulk overwrite;
//   - per-route rate limits with Discord's headers and 429 bodies, and an
//     optional global limit.
//
// What it does not fake: voice, sharding (it always reports one shard),
// zlib-stream transport compression (IDENTIFY's compress flag is accepted
// and every frame is sent as plain text), ETF encoding, presence and
// member-chunk requests (ignored), attachments' contents (only file names
// are kept), reactions, threads, DMs, and OAuth2.
package discordfake
