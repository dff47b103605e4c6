//! 负面清单: what the fallback window does not take (涉法、涉诉、涉访, requests against current
//! policy, and what the administrator adds), each with the right channel.
