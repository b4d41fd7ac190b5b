DROP TABLE account_link_codes;
