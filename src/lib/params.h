/*
 * params.h - every configuration parameter, declared once.
 *
 * params.c holds the table: name, type, default (as main.cf text, may refer
 * to other parameters with $name), bounds, default time unit, pointer to the
 * typed variable below, and a one-line description used by
 * 'yubin config -d -v' and the man page. Adding a parameter = one table row
 * plus one variable here.
 *
 * Types: P_STR (expanded text), P_LIST (expanded text, split by consumers
 * with strlist_split), P_INT (long within bounds), P_BOOL (yes/no, also
 * true/false), P_TIME (seconds; value is a number with an optional unit
 * s m h d w, the row's unit applies when none is given), P_SIZE (bytes).
 *
 * choices: for P_STR, "a|b|c" lists the accepted values; an empty value is
 * also accepted when the row's default is empty (it means "not set").
 *
 * Computed defaults (def NULL): compute() returns the value as a literal (it
 * is not $-expanded again). It may ask for other parameters through env,
 * which keeps loop detection and lazy expansion in config.c.
 */
#ifndef YUBIN_PARAMS_H
#define YUBIN_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

enum param_type { P_STR, P_LIST, P_INT, P_BOOL, P_TIME, P_SIZE };

struct param_env {
    /* Expanded value of another parameter; NULL after an error (reported). */
    const char *(*value)(void *ctx, const char *name);
    /* Was the parameter set in the configuration file? */
    bool (*is_set)(void *ctx, const char *name);
    void *ctx;
};
/* Returns a new string (caller frees), or NULL when env->value failed. */
typedef char *param_compute_fn(const struct param_env *env);

struct param {
    const char *name;
    enum param_type type;
    const char *def;        /* default, main.cf syntax; NULL = computed (see params.c) */
    long min, max;          /* numeric bounds (P_INT, P_TIME in seconds, P_SIZE) */
    char unit;              /* P_TIME default unit: 's' 'm' 'h' 'd' 'w' */
    void *var;              /* char ** for P_STR/P_LIST, long * otherwise, bool * for P_BOOL */
    const char *doc;
    const char *choices;    /* P_STR only: "a|b|c", NULL = any value */
    param_compute_fn *compute;  /* when def is NULL */
    bool noexpand;          /* stored as written: $names are per-delivery
                               variables, expanded by the consumer */
};

extern const struct param param_table[];
extern const size_t param_count;
const struct param *param_find(const char *name);

/*
 * The typed variables. They hold the values of the last successful
 * config_load() (NULL/0 before it). Strings belong to the configuration:
 * they stay valid until the next successful config_load() frees them.
 * Rows whose doc starts with "yubin only:" have no Postfix equivalent.
 */
/* Identity (postconf(5) meanings) */
extern char *var_myhostname, *var_mydomain, *var_myorigin, *var_mydestination;
extern char *var_mynetworks, *var_relay_domains, *var_mail_name, *var_syslog_name;
extern char *var_inet_interfaces, *var_proxy_interfaces;
/* Files, processes, logging */
extern char *var_queue_directory, *var_maillog_file, *var_mail_owner, *var_default_privs;
/* SMTP server */
extern char *var_smtpd_banner, *var_smtpd_listen;
extern long var_message_size_limit, var_smtpd_recipient_limit, var_smtpd_timeout;
extern long var_smtpd_session_deadline, var_smtpd_client_connection_count_limit;
extern long var_smtpd_session_limit, var_smtpd_hard_error_limit, var_smtpd_soft_error_limit;
extern long var_smtpd_junk_command_limit, var_smtpd_error_sleep_time;
extern long var_header_size_limit, var_hopcount_limit, var_queue_minfree;
extern bool var_smtputf8_enable;
extern char *var_smtpd_tls_cert_file, *var_smtpd_tls_key_file, *var_smtpd_tls_security_level;
/* Queue and scheduling */
extern long var_maximal_queue_lifetime, var_bounce_queue_lifetime;
extern long var_minimal_backoff_time, var_maximal_backoff_time, var_queue_run_delay;
extern long var_delay_warning_time;
/* Local delivery */
extern char *var_alias_maps, *var_alias_database;

/* Local delivery, routing and the SMTP client (issues 3 and 4) */
extern char *var_recipient_delimiter;
extern char *var_forward_path;
extern char *var_home_mailbox;
extern char *var_mail_spool_directory;
extern char *var_mailbox_command;
extern char *var_local_recipient_maps;
extern char *var_luser_relay;
extern char *var_allow_mail_to_commands;
extern char *var_allow_mail_to_files;
extern long var_command_time_limit;
extern long var_mailbox_size_limit;
extern char *var_prepend_delivered_header;
extern bool var_owner_request_special;
extern bool var_expand_owner_alias;
extern char *var_local_transport;
extern char *var_virtual_mailbox_domains;
extern char *var_virtual_mailbox_base;
extern char *var_virtual_mailbox_maps;
extern char *var_virtual_uid_maps;
extern char *var_virtual_gid_maps;
extern long var_virtual_minimum_uid;
extern char *var_virtual_transport;
extern char *var_virtual_alias_maps;
extern char *var_virtual_alias_domains;
extern long var_bounce_size_limit;
extern char *var_notify_classes;
extern char *var_bounce_notice_recipient;
extern char *var_2bounce_notice_recipient;
extern char *var_double_bounce_sender;
extern char *var_default_transport;
extern char *var_relay_transport;
extern char *var_transport_maps;
extern char *var_transport_definitions;
extern char *var_relayhost;
extern char *var_smtp_fallback_relay;
extern char *var_dns_servers;
extern long var_default_destination_recipient_limit;
extern long var_smtp_destination_recipient_limit;
extern long var_lmtp_destination_recipient_limit;
extern long var_default_destination_concurrency_limit;
extern long var_smtp_destination_concurrency_limit;
extern long var_local_destination_concurrency_limit;
extern char *var_smtp_helo_name;
extern char *var_smtp_tls_security_level;
extern char *var_smtp_tls_CAfile;
extern long var_smtp_connect_timeout;
extern long var_smtp_helo_timeout;
extern long var_smtp_mail_timeout;
extern long var_smtp_rcpt_timeout;
extern long var_smtp_data_init_timeout;
extern long var_smtp_data_xfer_timeout;
extern long var_smtp_data_done_timeout;
extern long var_smtp_quit_timeout;
extern long var_smtp_connection_cache_time_limit;
extern long var_smtp_mx_address_limit;
/* Address rewriting */
extern char *var_canonical_maps;
extern char *var_sender_canonical_maps;
extern char *var_recipient_canonical_maps;
extern char *var_canonical_classes;
extern char *var_masquerade_domains;
extern char *var_masquerade_exceptions;
extern char *var_masquerade_classes;
extern char *var_propagate_unmatched_extensions;
extern bool var_reject_unlisted_sender;

#endif
