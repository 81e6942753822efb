using Sentinel.Core.Identity;
using Sentinel.Core.Relay;
using Sentinel.Core.RequestLog;
using Sentinel.Functions.Gateway;
using Sentinel.Functions.Http;

namespace Sentinel.Functions.Relay;

/// <summary><c>/api/relay</c>: routes (admin), the Evolution and Chatwoot webhook doors, conversations with their audit and
/// hand-over, deliveries with dead letters and replay, and stats.</summary>
internal static class RelayEndpoints
{
    public static IEndpointRouteBuilder MapRelayEndpoints(this IEndpointRouteBuilder app)
    {
        var relay = app.MapGroup("/api/relay").WithTags("relay");

        // ---- webhooks: their own credentials (Evolution's JWT is a Bearer token, but not ours), charged per IP to the webhook policy.
        relay.MapPost("/evolution/{instance}", (string instance, RelayIngress ingress, HttpContext http) => ingress.EvolutionAsync(http, instance, null))
            .WebhookIngress().WithSummary("Evolution API webhook for one instance (jwt_key Bearer, static header or secret path segment).").Produces<IngressAnswer>();
        relay.MapPost("/evolution/{instance}/{segment}", (string instance, string segment, RelayIngress ingress, HttpContext http) => ingress.EvolutionAsync(http, instance, segment))
            .WebhookIngress().WithSummary("The same, with a secret path segment (path auth) or Evolution's by-events suffix (/messages-upsert, …).").Produces<IngressAnswer>();
        relay.MapPost("/evolution/{instance}/{secret}/{suffix}", (string instance, string secret, string suffix, RelayIngress ingress, HttpContext http) =>
                ingress.EvolutionAsync(http, instance, secret + "/" + suffix))
            .WebhookIngress().WithSummary("The same, with both: the secret path segment, then the by-events suffix.").Produces<IngressAnswer>();
        relay.MapPost("/chatwoot/{instance}", (string instance, RelayIngress ingress, HttpContext http) => ingress.ChatwootAsync(http, instance))
            .WebhookIngress().WithSummary("Chatwoot API-inbox webhook (X-Chatwoot-Signature): agent replies to WhatsApp, hand-overs from conversation status.").Produces<IngressAnswer>();

        // ---- routes
        var routes = relay.MapGroup("/routes");
        routes.MapGet("/", async (RelayRouteStore store, HttpContext http) =>
        {
            var list = await store.ListAsync(http.Principal().TenantId, http.RequestAborted);
            return TypedResults.Json(new RouteList(list.Select(r => RouteView.From(r, BaseUrl(http))).ToList()), RelayJsonContext.Default.RouteList);
        }).RequireRole(Role.Admin).WithSummary("The tenant's relay routes (credentials never shown).").Produces<RouteList>();

        routes.MapPost("/", async (RouteRequest body, RelayRouteStore store, HttpContext http) =>
        {
            var outcome = await store.CreateAsync(http.Principal(), body.ToRoute(), http.RequestAborted);
            return outcome.Succeeded ? Saved(outcome.Value!, http, StatusCodes.Status201Created) : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin)
          .WithSummary("Route an Evolution instance: its webhook auth and its targets (n8n, Chatwoot, Botpress; Evolution for replies). Generated secrets are in this answer only.")
          .Produces<RouteSaved>(StatusCodes.Status201Created);

        routes.MapGet("/{instance}", async (string instance, RelayRouteStore store, HttpContext http) =>
            await store.GetAsync(http.Principal().TenantId, instance, http.RequestAborted) is { } route
                ? TypedResults.Json(RouteView.From(route, BaseUrl(http)), RelayJsonContext.Default.RouteView)
                : Problems.Result(StatusCodes.Status404NotFound, "not-found", "No such route", $"This tenant has no relay route for instance '{instance}'."))
            .RequireRole(Role.Admin).WithSummary("One route.").Produces<RouteView>();

        routes.MapPut("/{instance}", async (string instance, RouteRequest body, RelayRouteStore store, HttpContext http) =>
        {
            var outcome = await store.UpdateAsync(http.Principal().TenantId, instance, body.ToRoute(instance), http.RequestAborted);
            return outcome.Succeeded ? Saved(outcome.Value!, http, StatusCodes.Status200OK) : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin)
          .WithSummary("Replace a route's settings; credentials left out keep their values; saving re-enables a target disabled by 410 Gone.").Produces<RouteSaved>();

        routes.MapDelete("/{instance}", async (string instance, RelayRouteStore store, HttpContext http) =>
        {
            var outcome = await store.DeleteAsync(http.Principal().TenantId, instance, http.RequestAborted);
            return outcome.Succeeded ? Results.NoContent() : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin).WithSummary("Delete a route: its webhooks get 404 from now on; its history stays.");

        // ---- conversations
        var conversations = relay.MapGroup("/conversations");
        conversations.MapGet("/", async (string? owner, string? instance, int? limit, RelayQueries queries, HttpContext http) =>
        {
            if (owner is not null && !Owners.IsKnown(owner))
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid owner", "owner is bot or human.");
            var list = await queries.ConversationsAsync(http.Principal().TenantId, owner, instance, limit ?? 100, http.RequestAborted);
            return TypedResults.Json(new ConversationList(list), RelayJsonContext.Default.ConversationList);
        }).RequireRole(Role.Viewer, Scopes.RelayRead).WithSummary("Conversations, most recent first; filter by owner (bot, human) and instance.").Produces<ConversationList>();

        conversations.MapGet("/{id}", async (string id, RelayQueries queries, HttpContext http) =>
        {
            var outcome = await queries.ConversationAsync(http.Principal().TenantId, id, http.RequestAborted);
            return outcome.Succeeded ? TypedResults.Json(outcome.Value!, RelayJsonContext.Default.ConversationDetail) : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Viewer, Scopes.RelayRead)
          .WithSummary("The audit of one conversation: messages with their routing decision, deliveries with every attempt, hand-overs.").Produces<ConversationDetail>();

        conversations.MapGet("/{id}/owner", async (string id, RelayQueries queries, RelayOwnerCache owners, HttpContext http) =>
        {
            var tenant = http.Principal().TenantId;
            if (await owners.GetAsync(tenant, id, http.RequestAborted) is not { } owner)
            {
                owner = await queries.OwnerAsync(tenant, id, http.RequestAborted);
                if (owner is null)
                    return Problems.Result(StatusCodes.Status404NotFound, "not-found", "No such conversation", $"This tenant has no relay conversation '{id}'.");
                await owners.SetAsync(tenant, id, owner);
            }

            return TypedResults.Json(new HandoverAnswer(id, owner, false), RelayJsonContext.Default.HandoverAnswer);
        }).RequireRole(Role.Viewer, Scopes.RelayRead)
          .WithSummary("Who owns the conversation now (bot or human): Redis first (kept for 5 minutes, replaced by every hand-over), PostgreSQL when it is cold.")
          .Produces<HandoverAnswer>();

        conversations.MapPost("/{id}/handover", async (string id, HandoverRequest body, RelayStore store, RelayRouteStore routeStore, RelayOwnerCache owners,
            RelayDispatcher dispatcher, HttpContext http) =>
        {
            if (!Owners.IsKnown(body.To))
                return Problems.Result(StatusCodes.Status422UnprocessableEntity, "validation-failed", "Invalid hand-over", "to is bot or human.");
            var principal = http.Principal();
            var reason = string.IsNullOrWhiteSpace(body.Reason) ? $"hand-over to {body.To} through the API" : body.Reason.Trim();
            var outcome = await store.HandoverAsync(principal.TenantId, id, body.To!, reason, principal.Name, routeStore.FindAsync, http.RequestAborted);
            if (!outcome.Succeeded)
                return GatewayResults.Problem(outcome.Failure!);
            await owners.SetAsync(principal.TenantId, id, outcome.Value.Owner);
            if (outcome.Value.Changed)
                dispatcher.Signal();
            return TypedResults.Json(new HandoverAnswer(id, outcome.Value.Owner, outcome.Value.Changed), RelayJsonContext.Default.HandoverAnswer);
        }).RequireRole(Role.Operator, Scopes.RelayWrite)
          .WithSummary("Hand the conversation to the bot or to humans (an n8n flow can call it with an API key); idempotent; recorded in its history.").Produces<HandoverAnswer>();

        conversations.MapPost("/{id}/messages", async (string id, SendRequest body, RelayStore store, RelayRouteStore routeStore, RelayDispatcher dispatcher, HttpContext http) =>
        {
            if (string.IsNullOrWhiteSpace(body.Text) || body.Text.Length > 4096)
                return Problems.Result(StatusCodes.Status422UnprocessableEntity, "validation-failed", "Invalid message", "text is 1 to 4096 characters.");
            var principal = http.Principal();
            var outcome = await store.SendAsync(principal.TenantId, id, body.Text, principal.Name, routeStore.FindAsync, http.RequestAborted);
            if (!outcome.Succeeded)
                return GatewayResults.Problem(outcome.Failure!);
            dispatcher.Signal();
            return TypedResults.Json(new SendAnswer(id, outcome.Value), RelayJsonContext.Default.SendAnswer, statusCode: StatusCodes.Status202Accepted);
        }).RequireRole(Role.Operator, Scopes.RelayWrite)
          .WithSummary("Send a text to the customer (a bot's answer): delivered through Evolution in conversation order and mirrored to Chatwoot.").Produces<SendAnswer>(StatusCodes.Status202Accepted);

        // ---- deliveries
        var deliveries = relay.MapGroup("/deliveries");
        deliveries.MapGet("/", async (string? state, string? target, string? instance, long? before, int? limit, RelayQueries queries, HttpContext http) =>
        {
            if (state is not (null or "pending" or "delivered" or "dead"))
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid state", "state is pending, delivered or dead.");
            var take = Math.Clamp(limit ?? 100, 1, 500);
            var list = await queries.DeliveriesAsync(http.Principal().TenantId, state, target, instance, before, take, http.RequestAborted);
            return TypedResults.Json(new DeliveryList(list, list.Count == take ? list[^1].Id : null), RelayJsonContext.Default.DeliveryList);
        }).RequireRole(Role.Viewer, Scopes.RelayRead)
          .WithSummary("Deliveries, newest first (state=dead lists the dead letters); page with before=<next>.").Produces<DeliveryList>();

        deliveries.MapGet("/{id}", async (long id, RelayQueries queries, HttpContext http) =>
        {
            var outcome = await queries.DeliveryAsync(http.Principal().TenantId, id, http.RequestAborted);
            return outcome.Succeeded ? TypedResults.Json(outcome.Value!, RelayJsonContext.Default.DeliveryView) : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Viewer, Scopes.RelayRead).WithSummary("One delivery with every attempt (status, latency, error).").Produces<DeliveryView>();

        deliveries.MapPost("/{id}/replay", async (long id, RelayStore store, RelayQueries queries, RelayDispatcher dispatcher, HttpContext http) =>
        {
            var tenant = http.Principal().TenantId;
            if (await store.ReplayAsync(tenant, id, null, null, http.RequestAborted) == 0)
            {
                var existing = await queries.DeliveryAsync(tenant, id, http.RequestAborted);
                return existing.Succeeded
                    ? Problems.Result(StatusCodes.Status409Conflict, "not-dead", "Not a dead letter",
                        $"Delivery {id} is {existing.Value!.State}; only dead letters are replayed, so nothing is ever sent twice.")
                    : GatewayResults.Problem(existing.Failure!);
            }

            dispatcher.Signal();
            return TypedResults.Json(new ReplayAnswer(1), RelayJsonContext.Default.ReplayAnswer, statusCode: StatusCodes.Status202Accepted);
        }).RequireRole(Role.Operator, null).WithSummary("Replay a dead letter: same webhook-id, a fresh retry schedule.").Produces<ReplayAnswer>(StatusCodes.Status202Accepted);

        deliveries.MapPost("/replay", async (ReplayRequest? body, RelayStore store, RelayDispatcher dispatcher, HttpContext http) =>
        {
            var count = await store.ReplayAsync(http.Principal().TenantId, null, body?.Target, body?.Instance, http.RequestAborted);
            if (count > 0)
                dispatcher.Signal();
            return TypedResults.Json(new ReplayAnswer(count), RelayJsonContext.Default.ReplayAnswer, statusCode: StatusCodes.Status202Accepted);
        }).RequireRole(Role.Operator, null).WithSummary("Replay every dead letter (of a target and/or instance), up to 10,000.").Produces<ReplayAnswer>(StatusCodes.Status202Accepted);

        relay.MapGet("/stats", async (string? window, RelayQueries queries, HttpContext http) =>
        {
            var span = TimeSpan.FromHours(1);
            if (window is not null && (!GatewayStats.TryParseDuration(window, out span) || span > TimeSpan.FromDays(7) || span < TimeSpan.FromMinutes(1)))
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid window", "window is a duration from 1m to 7d (15m, 1h, 24h).");
            return TypedResults.Json(await queries.StatsAsync(http.Principal().TenantId, span, http.RequestAborted), RelayJsonContext.Default.RelayStats);
        }).RequireRole(Role.Viewer, Scopes.RelayRead)
          .WithSummary("Messages per minute, delivery success, attempt latency and end-to-end lag percentiles, backlog and dead letters, per target.").Produces<RelayStats>();

        return app;
    }

    private static GatewayResults.NoStore Saved(RelayRoute route, HttpContext http, int status) =>
        new(TypedResults.Json(new RouteSaved(RouteView.From(route, BaseUrl(http), showSecrets: true), route.PathSecret, route.N8n?.SigningSecret),
            RelayJsonContext.Default.RouteSaved, statusCode: status));

    private static string BaseUrl(HttpContext http) => PublicUrl.Of(http);
}
