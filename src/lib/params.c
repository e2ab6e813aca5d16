/*
 * params.c - the parameter table: every yubin.conf parameter with its type,
 * default (Postfix's, where Postfix has the parameter), bounds and one line
 * of documentation. config.c reads this table; 'yubin config -d -v' and
 * man/yubin.conf.5 show it.
 *
 * Trusts: nothing; this is data. The two computed defaults use
 * gethostname() only (no DNS), so loading the configuration never blocks.
 */
#include "lib/params.h"
#include "lib/util.h"

#include <limits.h>
#include <string.h>

char *var_myhostname, *var_mydomain, *var_myorigin, *var_mydestination;
char *var_mynetworks, *var_relay_domains, *var_mail_name, *var_syslog_name;
char *var_inet_interfaces, *var_proxy_interfaces;
char *var_queue_directory, *var_maillog_file, *var_mail_owner, *var_default_privs;
char *var_smtpd_banner, *var_smtpd_listen;
long var_message_size_limit, var_smtpd_recipient_limit, var_smtpd_timeout;
long var_smtpd_session_deadline, var_smtpd_client_connection_count_limit;
long var_smtpd_session_limit, var_smtpd_hard_error_limit, var_smtpd_soft_error_limit;
long var_smtpd_junk_command_limit, var_smtpd_error_sleep_time;
long var_header_size_limit, var_hopcount_limit, var_queue_minfree;
bool var_smtputf8_enable;
char *var_smtpd_tls_cert_file, *var_smtpd_tls_key_file, *var_smtpd_tls_security_level;
long var_maximal_queue_lifetime, var_bounce_queue_lifetime;
long var_minimal_backoff_time, var_maximal_backoff_time, var_queue_run_delay;
long var_delay_warning_time;
char *var_alias_maps, *var_alias_database;
char *var_canonical_maps;
char *var_sender_canonical_maps;
char *var_recipient_canonical_maps;
char *var_canonical_classes;
char *var_masquerade_domains;
char *var_masquerade_exceptions;
char *var_masquerade_classes;
char *var_propagate_unmatched_extensions;
bool var_reject_unlisted_sender;
char *var_recipient_delimiter;
char *var_forward_path;
char *var_home_mailbox;
char *var_mail_spool_directory;
char *var_mailbox_command;
char *var_local_recipient_maps;
char *var_luser_relay;
char *var_allow_mail_to_commands;
char *var_allow_mail_to_files;
long var_command_time_limit;
long var_mailbox_size_limit;
char *var_prepend_delivered_header;
bool var_owner_request_special;
bool var_expand_owner_alias;
char *var_local_transport;
char *var_virtual_mailbox_domains;
char *var_virtual_mailbox_base;
char *var_virtual_mailbox_maps;
char *var_virtual_uid_maps;
char *var_virtual_gid_maps;
long var_virtual_minimum_uid;
char *var_virtual_transport;
char *var_virtual_alias_maps;
char *var_virtual_alias_domains;
long var_bounce_size_limit;
char *var_notify_classes;
char *var_bounce_notice_recipient;
char *var_2bounce_notice_recipient;
char *var_double_bounce_sender;
char *var_default_transport;
char *var_relay_transport;
char *var_transport_maps;
char *var_transport_definitions;
char *var_relayhost;
char *var_smtp_fallback_relay;
char *var_dns_servers;
long var_default_destination_recipient_limit;
long var_smtp_destination_recipient_limit;
long var_lmtp_destination_recipient_limit;
long var_default_destination_concurrency_limit;
long var_smtp_destination_concurrency_limit;
long var_local_destination_concurrency_limit;
char *var_smtp_helo_name;
char *var_smtp_tls_security_level;
char *var_smtp_tls_CAfile;
long var_smtp_connect_timeout;
long var_smtp_helo_timeout;
long var_smtp_mail_timeout;
long var_smtp_rcpt_timeout;
long var_smtp_data_init_timeout;
long var_smtp_data_xfer_timeout;
long var_smtp_data_done_timeout;
long var_smtp_quit_timeout;
long var_smtp_connection_cache_time_limit;
long var_smtp_mx_address_limit;

/*
 * myhostname: as Postfix's check_myhostname(): the name from gethostname();
 * a name without a dot gets ".$mydomain" when mydomain is set in the file,
 * else ".localdomain". Never DNS: a configuration load must not block.
 */
static char *params_default_myhostname(const struct param_env *env)
{
    const char *name = host_name();
    if (strchr(name, '.'))
        return xstrdup(name);
    if (env->is_set(env->ctx, "mydomain")) {
        const char *domain = env->value(env->ctx, "mydomain");
        if (!domain)
            return NULL;
        if (*domain)
            return xasprintf("%s.%s", name, domain);
    }
    return xasprintf("%s.localdomain", name);
}

/* mydomain: $myhostname minus its first label, else "localdomain". */
static char *params_default_mydomain(const struct param_env *env)
{
    const char *host = env->value(env->ctx, "myhostname");
    if (!host)
        return NULL;
    const char *dot = strchr(host, '.');
    if (!dot || dot[1] == 0)
        return xstrdup("localdomain");
    return xstrdup(dot + 1);
}

#define DAY (24L * 3600)
/* Sizes: large enough for anything real, small enough that adding a few of
 * them never overflows a long. */
#define SIZE_MAX_BYTES (LONG_MAX / 4)

#define ROW_STR(n, d, doc_) {.name = #n, .type = P_STR, .def = d, .var = &var_##n, .doc = doc_}
#define ROW_LIST(n, d, doc_) {.name = #n, .type = P_LIST, .def = d, .var = &var_##n, .doc = doc_}
#define ROW_INT(n, d, lo, hi, doc_) \
    {.name = #n, .type = P_INT, .def = d, .min = lo, .max = hi, .var = &var_##n, .doc = doc_}
#define ROW_SIZE(n, d, lo, doc_) \
    {.name = #n, .type = P_SIZE, .def = d, .min = lo, .max = SIZE_MAX_BYTES, .var = &var_##n, .doc = doc_}
#define ROW_TIME(n, d, u, lo, hi, doc_) \
    {.name = #n, .type = P_TIME, .def = d, .min = lo, .max = hi, .unit = u, .var = &var_##n, .doc = doc_}
#define ROW_BOOL(n, d, doc_) {.name = #n, .type = P_BOOL, .def = d, .var = &var_##n, .doc = doc_}

const struct param param_table[] = {
    /* Identity */
    {.name = "myhostname", .type = P_STR, .compute = params_default_myhostname, .var = &var_myhostname,
     .doc = "The fully-qualified name of this host, used in the SMTP greeting, Received: headers, "
            "Message-ID and bounces (default: gethostname(), plus .$mydomain or .localdomain when it has no dot)"},
    {.name = "mydomain", .type = P_STR, .compute = params_default_mydomain, .var = &var_mydomain,
     .doc = "The internet domain of this host (default: $myhostname minus its first label, else localdomain)"},
    ROW_STR(myorigin, "$myhostname",
        "The domain appended to unqualified addresses in locally posted mail, and that local mail comes from"),
    ROW_LIST(mydestination, "$myhostname, localhost.$mydomain, localhost",
         "Domains delivered locally; do not list $mydomain on a host whose mail for that domain lives elsewhere"),
    ROW_LIST(mynetworks, "127.0.0.0/8 [::1]/128",
         "Client networks trusted to relay mail; keep it narrow, behind a proxy every client looks local"),
    ROW_LIST(relay_domains, "",
         "Domains (and their subdomains) this host forwards mail to from untrusted clients"),
    ROW_STR(mail_name, "yubin", "The mail system name shown in the SMTP greeting and Received: headers"),
    ROW_STR(syslog_name, "yubin", "The name that starts every log line (NAME/program[pid])"),
    ROW_LIST(inet_interfaces, "all",
         "The addresses this host receives mail on: all, loopback-only or a list of addresses"),
    ROW_LIST(proxy_interfaces, "",
         "Addresses this host is reached on through a proxy or NAT, counted as its own"),
    /* Files, processes, logging */
    ROW_STR(queue_directory, "/var/spool/yubin", "The directory that holds the mail queue"),
    ROW_STR(maillog_file, "",
        "The file the mail log is written to; empty means syslog (facility mail); /dev/stderr and /dev/stdout work"),
    ROW_STR(mail_owner, "yubin", "The unprivileged user that owns the queue and runs the mail system"),
    ROW_STR(default_privs, "nobody",
        "The user that deliveries to files and commands named in root-owned alias files run as"),
    /* SMTP server */
    ROW_STR(smtpd_banner, "$myhostname ESMTP $mail_name", "The text after 220 in the SMTP greeting"),
    ROW_LIST(smtpd_listen, "0.0.0.0:25 [::]:25",
         "yubin only: the addresses and ports the SMTP server listens on, as address:port or [ipv6]:port"),
    ROW_SIZE(message_size_limit, "10240000", 1,
         "The largest message accepted, in bytes, including the envelope (advertised with SIZE)"),
    ROW_INT(smtpd_recipient_limit, "1000", 1, 1000000, "The most recipients accepted in one message"),
    ROW_TIME(smtpd_timeout, "300s", 's', 1, DAY,
         "How long the SMTP server waits for a client command or reply before it disconnects"),
    ROW_TIME(smtpd_session_deadline, "1800s", 's', 1, 7 * DAY,
         "yubin only: the longest an SMTP session may last in total, however active the client is"),
    ROW_INT(smtpd_client_connection_count_limit, "50", 0, 1000000,
        "The most simultaneous connections one client address may have (0 means no limit)"),
    ROW_INT(smtpd_session_limit, "1000", 1, 1000000,
        "yubin only: the most simultaneous SMTP sessions in total; further connections get 421"),
    ROW_INT(smtpd_hard_error_limit, "20", 1, 1000000,
        "The number of errors after which the SMTP server disconnects a client"),
    ROW_INT(smtpd_soft_error_limit, "10", 1, 1000000,
        "The number of errors after which the SMTP server delays each reply by smtpd_error_sleep_time"),
    ROW_INT(smtpd_junk_command_limit, "100", 1, 1000000,
        "The most NOOP, VRFY, ETRN and RSET commands a session may use before they count as errors"),
    ROW_TIME(smtpd_error_sleep_time, "1s", 's', 0, 300,
         "The delay before replying once a client has made smtpd_soft_error_limit errors"),
    ROW_SIZE(header_size_limit, "102400", 1, "The largest message header accepted, in bytes"),
    ROW_INT(hopcount_limit, "50", 1, 10000,
        "The most Received: headers a message may have before it is refused as a loop"),
    ROW_SIZE(queue_minfree, "0", 0,
         "The free space in bytes the queue file system must keep; mail is refused below it (0 means no check)"),
    ROW_BOOL(smtputf8_enable, "yes", "Announce and accept SMTPUTF8 (RFC 6531) internationalized mail"),
    ROW_STR(smtpd_tls_cert_file, "", "The PEM file with the SMTP server's certificate (and chain)"),
    ROW_STR(smtpd_tls_key_file, "", "The PEM file with the SMTP server's private key"),
    {.name = "smtpd_tls_security_level", .type = P_STR, .def = "", .var = &var_smtpd_tls_security_level,
     .choices = "none|may|encrypt",
     .doc = "SMTP server TLS: none, may (offer STARTTLS) or encrypt (require it); empty means none"},
    /* Queue and scheduling */
    ROW_TIME(maximal_queue_lifetime, "5d", 'd', 0, 100 * DAY,
         "How long a message may stay in the queue before it is returned as undeliverable (0: try once)"),
    ROW_TIME(bounce_queue_lifetime, "5d", 'd', 0, 100 * DAY,
         "The same for bounces (mail from the null sender); no longer than maximal_queue_lifetime"),
    ROW_TIME(minimal_backoff_time, "300s", 's', 1, 7 * DAY,
         "The shortest wait before a deferred message is tried again"),
    ROW_TIME(maximal_backoff_time, "4000s", 's', 1, 7 * DAY,
         "The longest wait before a deferred message is tried again"),
    ROW_TIME(queue_run_delay, "300s", 's', 1, 7 * DAY, "How often the deferred queue is scanned"),
    ROW_TIME(delay_warning_time, "0h", 'h', 0, 100 * DAY,
         "Warn the sender once a message has been delayed this long (0 means never)"),
    /* Local delivery */
    ROW_LIST(alias_maps, "hash:/etc/aliases",
         "The alias tables local delivery consults, in /etc/aliases syntax"),
    ROW_LIST(alias_database, "hash:/etc/aliases", "The alias tables newaliases checks"),
    /* Local delivery (local(8), virtual(8), bounces) */
    {.name = "recipient_delimiter", .type = P_STR, .def = "", .var = &var_recipient_delimiter,
     .doc = "Characters that separate a user name from an address extension (user+ext); empty: none"},
    {.name = "forward_path", .type = P_STR, .def = "$home/.forward${recipient_delimiter}${extension}, $home/.forward", .var = &var_forward_path, .noexpand = true,
     .doc = "The .forward files local delivery looks for; $user $home $extension $recipient_delimiter are per delivery (not expanded at load)"},
    {.name = "home_mailbox", .type = P_STR, .def = "", .var = &var_home_mailbox,
     .doc = "Mailbox file relative to the user's home (Maildir/ with a trailing slash means Maildir); empty: mail_spool_directory"},
    {.name = "mail_spool_directory", .type = P_STR, .def = "/var/mail", .var = &var_mail_spool_directory,
     .doc = "Where mbox mailboxes live (a trailing slash means one Maildir per user)"},
    {.name = "mailbox_command", .type = P_STR, .def = "", .var = &var_mailbox_command, .noexpand = true,
     .doc = "Command that delivers to the mailbox (e.g. procmail), run as the recipient without a shell; not expanded at load"},
    {.name = "local_recipient_maps", .type = P_LIST, .def = "unix:passwd.byname $alias_maps", .var = &var_local_recipient_maps,
     .doc = "Tables of valid local recipients; unknown users are rejected at RCPT time (empty: accept all)"},
    {.name = "luser_relay", .type = P_STR, .def = "", .var = &var_luser_relay, .noexpand = true,
     .doc = "Where mail for unknown local users goes ($user, $local, $extension, $domain are per delivery); needs local_recipient_maps empty to matter"},
    {.name = "allow_mail_to_commands", .type = P_LIST, .def = "alias, forward", .var = &var_allow_mail_to_commands,
     .doc = "Where |command deliveries are allowed: alias, forward, include"},
    {.name = "allow_mail_to_files", .type = P_LIST, .def = "alias, forward", .var = &var_allow_mail_to_files,
     .doc = "Where /file deliveries are allowed: alias, forward, include"},
    {.name = "command_time_limit", .type = P_TIME, .def = "1000s", .min = 1, .max = 7*DAY, .unit = 's', .var = &var_command_time_limit,
     .doc = "Time limit for a delivery to a command"},
    {.name = "mailbox_size_limit", .type = P_SIZE, .def = "51200000", .min = 0, .max = SIZE_MAX_BYTES, .var = &var_mailbox_size_limit,
     .doc = "Largest mailbox or file local delivery writes to (0: no limit)"},
    {.name = "prepend_delivered_header", .type = P_LIST, .def = "command, file, forward", .var = &var_prepend_delivered_header,
     .doc = "Deliveries that get a Delivered-To: header: command, file, forward"},
    {.name = "owner_request_special", .type = P_BOOL, .def = "yes", .var = &var_owner_request_special,
     .doc = "Treat owner-NAME and NAME-request specially (no address extension)"},
    {.name = "expand_owner_alias", .type = P_BOOL, .def = "no", .var = &var_expand_owner_alias,
     .doc = "Use the expansion of owner-NAME as the sender of mail to NAME, instead of owner-NAME itself"},
    {.name = "local_transport", .type = P_STR, .def = "local:$myhostname", .var = &var_local_transport,
     .doc = "Transport[:nexthop] for the local address class"},
    {.name = "virtual_mailbox_domains", .type = P_LIST, .def = "$virtual_mailbox_maps", .var = &var_virtual_mailbox_domains,
     .doc = "Domains whose mailboxes are in virtual_mailbox_maps (users without system accounts)"},
    {.name = "virtual_mailbox_base", .type = P_STR, .def = "", .var = &var_virtual_mailbox_base,
     .doc = "Directory that virtual_mailbox_maps paths are relative to"},
    {.name = "virtual_mailbox_maps", .type = P_LIST, .def = "", .var = &var_virtual_mailbox_maps,
     .doc = "Table: address -> mailbox path under virtual_mailbox_base (trailing slash: Maildir)"},
    {.name = "virtual_uid_maps", .type = P_LIST, .def = "", .var = &var_virtual_uid_maps,
     .doc = "Table: address -> uid for virtual mailboxes (static:N for one uid)"},
    {.name = "virtual_gid_maps", .type = P_LIST, .def = "", .var = &var_virtual_gid_maps,
     .doc = "Table: address -> gid for virtual mailboxes (static:N for one gid)"},
    {.name = "virtual_minimum_uid", .type = P_INT, .def = "100", .min = 0, .max = 2147483647, .var = &var_virtual_minimum_uid,
     .doc = "Smallest uid virtual delivery will write as"},
    {.name = "virtual_transport", .type = P_STR, .def = "virtual", .var = &var_virtual_transport,
     .doc = "Transport[:nexthop] for the virtual mailbox class"},
    {.name = "virtual_alias_maps", .type = P_LIST, .def = "", .var = &var_virtual_alias_maps,
     .doc = "Table: address -> addresses, applied to every recipient (user@domain, user, @domain catch-all)"},
    {.name = "virtual_alias_domains", .type = P_LIST, .def = "$virtual_alias_maps", .var = &var_virtual_alias_domains,
     .doc = "Domains whose addresses exist only as virtual aliases"},
    {.name = "bounce_size_limit", .type = P_SIZE, .def = "50000", .min = 1, .max = SIZE_MAX_BYTES, .var = &var_bounce_size_limit,
     .doc = "Largest original message returned whole in a bounce (larger: headers only)"},
    {.name = "notify_classes", .type = P_LIST, .def = "resource, software", .var = &var_notify_classes,
     .doc = "Problems reported to the postmaster: bounce, 2bounce, delay, resource, software"},
    {.name = "bounce_notice_recipient", .type = P_STR, .def = "postmaster", .var = &var_bounce_notice_recipient,
     .doc = "Who gets postmaster copies of bounces (notify_classes bounce)"},
    {.name = "2bounce_notice_recipient", .type = P_STR, .def = "postmaster", .var = &var_2bounce_notice_recipient,
     .doc = "Who gets undeliverable bounces (notify_classes 2bounce is implied: a lost bounce always reaches the postmaster once)"},
    {.name = "double_bounce_sender", .type = P_STR, .def = "double-bounce", .var = &var_double_bounce_sender,
     .doc = "Sender of postmaster notifications; mail to it is discarded"},
    /* Address rewriting (cleanup) */
    {.name = "canonical_maps", .type = P_LIST, .def = "", .var = &var_canonical_maps,
     .doc = "Tables: address -> address, for senders and recipients (before virtual aliases)"},
    {.name = "sender_canonical_maps", .type = P_LIST, .def = "", .var = &var_sender_canonical_maps,
     .doc = "Tables: address -> address, for senders only (applied before canonical_maps)"},
    {.name = "recipient_canonical_maps", .type = P_LIST, .def = "", .var = &var_recipient_canonical_maps,
     .doc = "Tables: address -> address, for recipients only (applied before canonical_maps)"},
    {.name = "canonical_classes", .type = P_LIST, .def = "envelope_sender, envelope_recipient, header_sender, header_recipient", .var = &var_canonical_classes,
     .doc = "What canonical mapping rewrites"},
    {.name = "masquerade_domains", .type = P_LIST, .def = "", .var = &var_masquerade_domains,
     .doc = "Domains to strip subdomains down to (host.example.com -> example.com); !domain excludes"},
    {.name = "masquerade_exceptions", .type = P_LIST, .def = "", .var = &var_masquerade_exceptions,
     .doc = "User names never masqueraded (e.g. root)"},
    {.name = "masquerade_classes", .type = P_LIST, .def = "envelope_sender, header_sender, header_recipient", .var = &var_masquerade_classes,
     .doc = "What masquerading rewrites"},
    {.name = "propagate_unmatched_extensions", .type = P_LIST, .def = "canonical, virtual", .var = &var_propagate_unmatched_extensions,
     .doc = "Where an address extension (+ext) is copied to the mapping result"},
    {.name = "reject_unlisted_sender", .type = P_BOOL, .def = "no", .var = &var_reject_unlisted_sender,
     .doc = "Reject a sender that claims one of our domains but is not a known address there (field report S2)"},
    /* Routing and the SMTP client */
    {.name = "default_transport", .type = P_STR, .def = "smtp", .var = &var_default_transport,
     .doc = "Transport[:nexthop] for the default address class (everything not local, virtual or relay)"},
    {.name = "relay_transport", .type = P_STR, .def = "smtp", .var = &var_relay_transport,
     .doc = "Transport[:nexthop] for domains in relay_domains. yubin's default is smtp, not Postfix's relay, so the relay and default classes are not split into two transactions to one next hop (field report S0)"},
    {.name = "transport_maps", .type = P_LIST, .def = "", .var = &var_transport_maps,
     .doc = "Tables: address or domain -> transport:nexthop (keys user@domain, domain, .domain, *)"},
    {.name = "transport_definitions", .type = P_STR, .def = "", .var = &var_transport_definitions,
     .doc = "yubin only: master.cf-style file defining named transports (pipe, extra smtp); empty: master.cf beside the configuration file, if present"},
    {.name = "relayhost", .type = P_LIST, .def = "", .var = &var_relayhost,
     .doc = "Next hop(s) for non-local mail, tried in order: host, host:port, [host], [address]:port"},
    {.name = "smtp_fallback_relay", .type = P_LIST, .def = "", .var = &var_smtp_fallback_relay,
     .doc = "Next hops tried when the destination is unreachable or defers at connection level"},
    {.name = "dns_servers", .type = P_LIST, .def = "", .var = &var_dns_servers,
     .doc = "yubin only: DNS servers as address[:port] ([v6]:port); empty: /etc/resolv.conf"},
    {.name = "default_destination_recipient_limit", .type = P_INT, .def = "50", .min = 1, .max = 100000, .var = &var_default_destination_recipient_limit,
     .doc = "Recipients per delivery transaction"},
    {.name = "smtp_destination_recipient_limit", .type = P_INT, .def = "$default_destination_recipient_limit", .min = 1, .max = 100000, .var = &var_smtp_destination_recipient_limit,
     .doc = "Recipients per SMTP transaction"},
    {.name = "lmtp_destination_recipient_limit", .type = P_INT, .def = "$default_destination_recipient_limit", .min = 1, .max = 100000, .var = &var_lmtp_destination_recipient_limit,
     .doc = "Recipients per LMTP transaction"},
    {.name = "default_destination_concurrency_limit", .type = P_INT, .def = "20", .min = 1, .max = 10000, .var = &var_default_destination_concurrency_limit,
     .doc = "Parallel deliveries to one destination"},
    {.name = "smtp_destination_concurrency_limit", .type = P_INT, .def = "$default_destination_concurrency_limit", .min = 1, .max = 10000, .var = &var_smtp_destination_concurrency_limit,
     .doc = "Parallel SMTP deliveries to one destination"},
    {.name = "local_destination_concurrency_limit", .type = P_INT, .def = "2", .min = 1, .max = 10000, .var = &var_local_destination_concurrency_limit,
     .doc = "Parallel local deliveries to one recipient"},
    {.name = "smtp_helo_name", .type = P_STR, .def = "$myhostname", .var = &var_smtp_helo_name,
     .doc = "The name the SMTP client sends in EHLO/HELO"},
    {.name = "smtp_tls_security_level", .type = P_STR, .def = "may", .var = &var_smtp_tls_security_level, .choices = "none|may|encrypt|verify",
     .doc = "SMTP client TLS: none, may (opportunistic STARTTLS), encrypt (required), verify (required, certificate checked)"},
    {.name = "smtp_tls_CAfile", .type = P_STR, .def = "", .var = &var_smtp_tls_CAfile,
     .doc = "CA certificates (PEM) for verifying servers; empty: the system's"},
    {.name = "smtp_connect_timeout", .type = P_TIME, .def = "30s", .min = 1, .max = 3600, .unit = 's', .var = &var_smtp_connect_timeout,
     .doc = "Time limit for the SMTP client to connect"},
    {.name = "smtp_helo_timeout", .type = P_TIME, .def = "300s", .min = 1, .max = 3600, .unit = 's', .var = &var_smtp_helo_timeout,
     .doc = "Time limit for the greeting and the EHLO reply"},
    {.name = "smtp_mail_timeout", .type = P_TIME, .def = "300s", .min = 1, .max = 3600, .unit = 's', .var = &var_smtp_mail_timeout,
     .doc = "Time limit for the MAIL FROM reply"},
    {.name = "smtp_rcpt_timeout", .type = P_TIME, .def = "300s", .min = 1, .max = 3600, .unit = 's', .var = &var_smtp_rcpt_timeout,
     .doc = "Time limit for each RCPT TO reply"},
    {.name = "smtp_data_init_timeout", .type = P_TIME, .def = "120s", .min = 1, .max = 3600, .unit = 's', .var = &var_smtp_data_init_timeout,
     .doc = "Time limit for the DATA reply"},
    {.name = "smtp_data_xfer_timeout", .type = P_TIME, .def = "180s", .min = 1, .max = 3600, .unit = 's', .var = &var_smtp_data_xfer_timeout,
     .doc = "Time limit for sending each block of message content"},
    {.name = "smtp_data_done_timeout", .type = P_TIME, .def = "600s", .min = 1, .max = 3600, .unit = 's', .var = &var_smtp_data_done_timeout,
     .doc = "Time limit for the reply to the final dot"},
    {.name = "smtp_quit_timeout", .type = P_TIME, .def = "300s", .min = 1, .max = 3600, .unit = 's', .var = &var_smtp_quit_timeout,
     .doc = "Time limit for the QUIT reply"},
    {.name = "smtp_connection_cache_time_limit", .type = P_TIME, .def = "2s", .min = 0, .max = 3600, .unit = 's', .var = &var_smtp_connection_cache_time_limit,
     .doc = "How long an idle SMTP connection is kept for reuse"},
    {.name = "smtp_mx_address_limit", .type = P_INT, .def = "5", .min = 0, .max = 1000, .var = &var_smtp_mx_address_limit,
     .doc = "Most MX/host addresses tried for one delivery (0: all)"},
};

const size_t param_count = ARRAY_LEN(param_table);

const struct param *param_find(const char *name)
{
    for (size_t i = 0; i < param_count; i++)
        if (strcmp(param_table[i].name, name) == 0)
            return &param_table[i];
    return NULL;
}
