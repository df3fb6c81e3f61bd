update focus_billing set is_duplicate = false where is_duplicate
